/** Names and the address plan of the NAT lab. */

/** Every namespace of a lab is `natlab-<tag>-<node>`; `natlab down` finds labs by this prefix. */
export const NAMESPACE_PREFIX = 'natlab-'

/** Every interface of a lab is `nl<tag><suffix>` (Linux caps interface names at 15 characters). */
export const LINK_PREFIX = 'nl'

/** The nftables table in each NAT router is `natlab_<tag>`. */
export const TABLE_PREFIX = 'natlab_'

/** A tag is short so that `nl<tag><suffix>` fits in 15 characters; lowercase keeps `ip` happy. */
export const TAG_PATTERN = /^[a-z0-9]{1,6}$/

/** Length of a random tag. */
export const TAG_LENGTH = 6

/** Longest Linux interface name (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15

/**
 * The lab's namespaces: `internet` is a bridge (the public network's switch), `relay` a public host,
 * `nat1`/`nat2` the home routers, `a`/`b` a host in each home; `cgn` (only with `cgnat`) a
 * carrier-grade NAT between home 2's router and the internet.
 */
export const LAB_NODES = ['internet', 'relay', 'nat1', 'nat2', 'a', 'b', 'cgn'] as const
export type LabNode = (typeof LAB_NODES)[number]

/**
 * The public network is TEST-NET-2 (RFC 5737: documentation only, never routed); the homes are
 * 10.0.1.0/24 and 10.0.2.0/24. None of these leaves the lab's namespaces: no namespace has a
 * link to the real machine.
 */
export const PUBLIC_NET = '198.51.100.0/24'
export const ADDRESSES = {
  relay: '198.51.100.10',
  nat1: { wan: '198.51.100.11', lan: '10.0.1.1' },
  nat2: { wan: '198.51.100.12', lan: '10.0.2.1' },
  a: '10.0.1.2',
  b: '10.0.2.2',
  /** With `cgnat`: the carrier's NAT, and home 2's router WAN in the shared address space (RFC 6598). */
  cgn: { wan: '198.51.100.13', lan: '100.64.0.1', nat2Wan: '100.64.0.2' },
} as const

/**
 * The public network a lab can use instead (`createNatLab({ publicNet: 'routable' })`): addresses
 * that libp2p (`@libp2p/utils` isPrivate) and miniupnpd (its reserved-address check) count as
 * public, where TEST-NET-2 counts as private to both, so no UPnP mapping or announced public
 * address exists on it. Still nothing leaves the lab: no namespace has a link to the real machine
 * and no router has a route beyond the lab's own subnets, so these addresses are never routed.
 */
export const ROUTABLE_NET = '11.0.100.0/24'
export const ROUTABLE_ADDRESSES: LabAddresses = {
  ...ADDRESSES,
  relay: '11.0.100.10',
  nat1: { wan: '11.0.100.11', lan: ADDRESSES.nat1.lan },
  nat2: { wan: '11.0.100.12', lan: ADDRESSES.nat2.lan },
  cgn: { ...ADDRESSES.cgn, wan: '11.0.100.13' },
}

/** Which public network a lab uses: TEST-NET-2 (the default) or ROUTABLE_NET. */
export const PUBLIC_NETS = ['test-net', 'routable'] as const
export type PublicNet = (typeof PUBLIC_NETS)[number]

/** The address plan of a lab on the given public network. */
export function addressesOf(net: PublicNet = 'test-net'): LabAddresses {
  return net === 'routable' ? ROUTABLE_ADDRESSES : ADDRESSES
}

/** Prefix length of the carrier's shared address space 100.64.0.0/10 (RFC 6598). */
export const CGN_PREFIX_LENGTH = 10
export interface LabAddresses {
  relay: string
  nat1: { wan: string; lan: string }
  nat2: { wan: string; lan: string }
  a: string
  b: string
  cgn: { wan: string; lan: string; nat2Wan: string }
}

/** Prefix length of every lab subnet. */
export const PREFIX_LENGTH = 24

/** How long a lab command (ip, nft) may take; apt-get gets longer. */
export const COMMAND_TIMEOUT_MS = 30_000
export const INSTALL_TIMEOUT_MS = 300_000

/** After SIGTERM, processes in the lab get this long before SIGKILL. */
export const STOP_GRACE_MS = 3_000
