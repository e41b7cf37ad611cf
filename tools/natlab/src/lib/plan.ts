/**
 * The lab as data: the names a tag gives, and the commands that build it. Pure, so that the plan
 * can be checked without root (every name carries the tag, every interface name fits, every
 * command acts inside a lab namespace).
 */
import {
  ADDRESSES,
  CGN_PREFIX_LENGTH,
  type LabAddresses,
  LAB_NODES,
  LINK_PREFIX,
  type LabNode,
  NAMESPACE_PREFIX,
  PREFIX_LENGTH,
  TABLE_PREFIX,
  TAG_LENGTH,
  TAG_PATTERN,
} from './constants.ts'
import { InvalidNatTypeError, InvalidTagError } from './errors.ts'

/** One command of the plan; `input` goes to its stdin. */
export interface Step {
  cmd: string
  args: string[]
  input?: string
}

/** The interfaces of a lab, by role. */
export interface LabLinks {
  bridge: string
  /** relay end and its bridge port */
  relay: string
  relayPort: string
  nat1Wan: string
  nat1WanPort: string
  nat1Lan: string
  a: string
  nat2Wan: string
  nat2WanPort: string
  nat2Lan: string
  b: string
  /** the carrier-grade NAT (only with `cgnat`): its WAN, that WAN's bridge port, its LAN towards nat2 */
  cgnWan: string
  cgnWanPort: string
  cgnLan: string
}

export interface LabNames {
  tag: string
  namespaces: Record<LabNode, string>
  links: LabLinks
  table: string
}

/** Throws InvalidTagError unless `tag` is 1..6 characters of [a-z0-9]. */
export function checkTag(tag: unknown): string {
  if (typeof tag !== 'string' || !TAG_PATTERN.test(tag)) {
    throw new InvalidTagError(`A lab tag is 1..6 characters of [a-z0-9], got ${JSON.stringify(tag)}`)
  }
  return tag
}

/** A fresh random tag (6 characters of [a-z0-9]). */
export function randomTag(random: () => number = Math.random): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789'
  let tag = ''
  for (let i = 0; i < TAG_LENGTH; i++) tag += chars[Math.floor(random() * chars.length) % chars.length]
  return tag
}

/** Every name a lab with this tag uses. */
export function labNames(tag: string): LabNames {
  checkTag(tag)
  const ns = Object.fromEntries(LAB_NODES.map((n) => [n, `${NAMESPACE_PREFIX}${tag}-${n}`])) as Record<LabNode, string>
  const l = (suffix: string) => `${LINK_PREFIX}${tag}${suffix}`
  return {
    tag,
    namespaces: ns,
    links: {
      bridge: l('br'),
      relay: l('r'),
      relayPort: l('rp'),
      nat1Wan: l('1w'),
      nat1WanPort: l('1p'),
      nat1Lan: l('1l'),
      a: l('a'),
      nat2Wan: l('2w'),
      nat2WanPort: l('2p'),
      nat2Lan: l('2l'),
      b: l('b'),
      cgnWan: l('gw'),
      cgnWanPort: l('gp'),
      cgnLan: l('gl'),
    },
    table: `${TABLE_PREFIX}${tag}`,
  }
}

/** The tag of a lab namespace name, or undefined when the name is not one of a lab's. */
export function tagOfNamespace(name: string): string | undefined {
  if (!name.startsWith(NAMESPACE_PREFIX)) return undefined
  const rest = name.slice(NAMESPACE_PREFIX.length)
  const dash = rest.indexOf('-')
  if (dash < 0) return undefined
  const tag = rest.slice(0, dash)
  const node = rest.slice(dash + 1)
  return TAG_PATTERN.test(tag) && (LAB_NODES as readonly string[]).includes(node) ? tag : undefined
}

/**
 * The NAT behaviours a lab router can have (RFC 4787 terms):
 * - `port-restricted`: endpoint-independent mapping (Linux keeps the source port when it is free,
 *   so a LAN socket gets the same public port whatever it talks to), address-and-port-dependent
 *   filtering (only replies to what the LAN sent get in): most home routers.
 * - `full-cone`: the same mapping, endpoint-independent filtering: any host may send UDP to a
 *   mapped port. Emulated for the one LAN host: unsolicited UDP to the WAN is forwarded to it on
 *   the same port (the mapping preserves ports, so that is where the mapped socket listens).
 * - `symmetric`: endpoint-dependent mapping (`masquerade random`: each new destination gets its own
 *   random public port), address-and-port-dependent filtering: many mobile and enterprise NATs.
 */
export const NAT_TYPES = ['port-restricted', 'full-cone', 'symmetric'] as const
export type NatType = (typeof NAT_TYPES)[number]

/**
 * The nftables ruleset of a home router of the given type (see NAT_TYPES): masquerade out of the
 * WAN, conntrack filtering in; `lanHost` is the LAN host a full-cone router forwards UDP to.
 */
/**
 * The chains miniupnpd (nftables backend) writes its port mappings into, inside the router's own
 * table: DNAT in `upnp_prerouting`, the matching accept in `upnp_forward` (jumped to before the
 * forward policy drops), and `upnp_postrouting`. miniupnpd.conf names them (see upnp.ts).
 */
export const UPNP_CHAINS = { forward: 'upnp_forward', prerouting: 'upnp_prerouting', postrouting: 'upnp_postrouting' } as const

export function routerRuleset(table: string, wan: string, lan: string, type: NatType = 'port-restricted', lanHost?: string, opts: { upnp?: boolean } = {}): string {
  if (!(NAT_TYPES as readonly string[]).includes(type)) throw new InvalidNatTypeError(`not a NAT type: ${String(type)} (one of ${NAT_TYPES.join(', ')})`)
  if (type === 'full-cone' && lanHost === undefined) throw new InvalidNatTypeError('a full-cone router needs its LAN host')
  const cone =
    type === 'full-cone'
      ? `
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "${wan}" udp dport 1024-65535 dnat to ${lanHost}
  }`
      : ''
  const upnp = opts.upnp === true
  // miniupnpd (nftables build) writes into chains of an inet table, as its nft_init.sh lays them out
  const upnpTable = upnp
    ? `table inet ${table} {
  chain forward {
    type filter hook forward priority filter - 1; policy accept;
    jump ${UPNP_CHAINS.forward}
  }
  chain prerouting {
    type nat hook prerouting priority dstnat - 1; policy accept;
    iifname "${wan}" jump ${UPNP_CHAINS.prerouting}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat - 1; policy accept;
    jump ${UPNP_CHAINS.postrouting}
  }
  chain ${UPNP_CHAINS.forward} {
  }
  chain ${UPNP_CHAINS.prerouting} {
  }
  chain ${UPNP_CHAINS.postrouting} {
  }
}
`
    : ''
  return `${upnpTable}table ip ${table} {${cone}
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${wan}" masquerade${type === 'symmetric' ? ' random' : ''}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "${lan}" oifname "${wan}" accept${upnp ? `
    iifname "${wan}" oifname "${lan}" ct status dnat accept` : ''}
    iifname "${wan}" oifname "${lan}" ct state established,related accept${type === 'full-cone' ? `
    iifname "${wan}" oifname "${lan}" ct status dnat accept` : ''}
  }
  chain input {
    type filter hook input priority filter; policy drop;
    iifname "lo" accept
    iifname "${lan}" accept
    ct state established,related accept
  }
}
`
}

const ip = (...args: string[]): Step => ({ cmd: 'ip', args })
const inNs = (ns: string, script: string): Step => ({ cmd: 'ip', args: ['netns', 'exec', ns, 'sh', '-c', script] })

/** The NAT type of each router. @default port-restricted for both */
export interface LabNats {
  nat1?: NatType
  nat2?: NatType
  /**
   * Put home 2's router behind a carrier-grade NAT (a port-restricted one): its WAN gets 100.64.0.2/10
   * and the carrier's router masquerades that to 198.51.100.13. @default false
   */
  cgnat?: boolean
  /**
   * Which routers run a UPnP IGD (miniupnpd, started by the lab once the plan ran): their rulesets get
   * the chains miniupnpd writes into. @default neither
   */
  upnp?: { nat1?: boolean; nat2?: boolean }
}

/** The commands that build the lab, in order. Each acts inside one of the lab's namespaces. */
export function buildPlan(names: LabNames, nats: LabNats = {}, addresses: LabAddresses = ADDRESSES): Step[] {
  const { namespaces: ns, links: k, table } = names
  const cidr = (addr: string) => `${addr}/${PREFIX_LENGTH}`
  const steps: Step[] = []
  const cgnat = nats.cgnat === true
  const nodes = LAB_NODES.filter((n) => n !== 'cgn' || cgnat)
  for (const node of nodes) steps.push(ip('netns', 'add', ns[node]))
  for (const node of nodes) {
    steps.push(ip('-n', ns[node], 'link', 'set', 'lo', 'up'))
    // IPv6 is off: the lab is IPv4 only, so no link-local chatter and no second address family
    steps.push(inNs(ns[node], 'if [ -d /proc/sys/net/ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; fi'))
  }
  // the public network: a bridge inside the `internet` namespace, one port per public host
  steps.push(ip('-n', ns.internet, 'link', 'add', k.bridge, 'type', 'bridge'))
  const wire = (nsA: string, a: string, nsB: string, b: string) => ip('-n', nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB)
  steps.push(wire(ns.internet, k.relayPort, ns.relay, k.relay))
  steps.push(wire(ns.internet, k.nat1WanPort, ns.nat1, k.nat1Wan))
  if (cgnat) {
    // internet ─ cgn ─ nat2: home 2's router reaches the internet through the carrier's NAT
    steps.push(wire(ns.internet, k.cgnWanPort, ns.cgn, k.cgnWan))
    steps.push(wire(ns.cgn, k.cgnLan, ns.nat2, k.nat2Wan))
  } else {
    steps.push(wire(ns.internet, k.nat2WanPort, ns.nat2, k.nat2Wan))
  }
  steps.push(wire(ns.nat1, k.nat1Lan, ns.a, k.a))
  steps.push(wire(ns.nat2, k.nat2Lan, ns.b, k.b))
  for (const port of [k.relayPort, k.nat1WanPort, cgnat ? k.cgnWanPort : k.nat2WanPort]) {
    steps.push(ip('-n', ns.internet, 'link', 'set', port, 'master', k.bridge, 'up'))
  }
  steps.push(ip('-n', ns.internet, 'link', 'set', k.bridge, 'up'))
  const addr = (n: string, link: string, a: string) => [ip('-n', n, 'addr', 'add', cidr(a), 'dev', link), ip('-n', n, 'link', 'set', link, 'up')]
  steps.push(...addr(ns.relay, k.relay, addresses.relay))
  steps.push(...addr(ns.nat1, k.nat1Wan, addresses.nat1.wan), ...addr(ns.nat1, k.nat1Lan, addresses.nat1.lan))
  if (cgnat) {
    const shared = (n: string, link: string, a: string) => [ip('-n', n, 'addr', 'add', `${a}/${CGN_PREFIX_LENGTH}`, 'dev', link), ip('-n', n, 'link', 'set', link, 'up')]
    steps.push(...addr(ns.cgn, k.cgnWan, addresses.cgn.wan), ...shared(ns.cgn, k.cgnLan, addresses.cgn.lan))
    steps.push(...shared(ns.nat2, k.nat2Wan, addresses.cgn.nat2Wan), ...addr(ns.nat2, k.nat2Lan, addresses.nat2.lan))
  } else {
    steps.push(...addr(ns.nat2, k.nat2Wan, addresses.nat2.wan), ...addr(ns.nat2, k.nat2Lan, addresses.nat2.lan))
  }
  steps.push(...addr(ns.a, k.a, addresses.a), ...addr(ns.b, k.b, addresses.b))
  // homes route everything to their router; routers and the relay only know their own subnets
  steps.push(ip('-n', ns.a, 'route', 'add', 'default', 'via', addresses.nat1.lan))
  steps.push(ip('-n', ns.b, 'route', 'add', 'default', 'via', addresses.nat2.lan))
  // behind a carrier's NAT, home 2's router is no longer on the public network: its way out is the carrier
  if (cgnat) steps.push(ip('-n', ns.nat2, 'route', 'add', 'default', 'via', addresses.cgn.lan))
  for (const [router, wan, lan, type, host, upnp] of [
    [ns.nat1, k.nat1Wan, k.nat1Lan, nats.nat1, addresses.a, nats.upnp?.nat1],
    [ns.nat2, k.nat2Wan, k.nat2Lan, nats.nat2, addresses.b, nats.upnp?.nat2],
  ] as const) {
    steps.push(inNs(router, 'echo 1 > /proc/sys/net/ipv4/ip_forward'))
    steps.push({ cmd: 'ip', args: ['netns', 'exec', router, 'nft', '-f', '-'], input: routerRuleset(table, wan, lan, type, host, { upnp }) })
  }
  if (cgnat) {
    steps.push(inNs(ns.cgn, 'echo 1 > /proc/sys/net/ipv4/ip_forward'))
    steps.push({ cmd: 'ip', args: ['netns', 'exec', ns.cgn, 'nft', '-f', '-'], input: routerRuleset(table, k.cgnWan, k.cgnLan) })
  }
  return steps
}
