/**
 * @baran/natlab — a NAT lab in Linux network namespaces, for NAT-traversal tests and benchmarks.
 *
 * `createNatLab()` builds, with `ip netns`, veth pairs and nftables masquerade: a "public"
 * network (TEST-NET-2, 198.51.100.0/24, a bridge in the `internet` namespace) with a `relay`
 * host, and two homes (10.0.1.0/24 with host `a`, 10.0.2.0/24 with host `b`), each behind its own
 * NAT router (`nat1`, `nat2`). No namespace has a link to the real machine, so nothing leaves the
 * lab; every name carries the lab's tag, and `teardown()` (or `natlab down --tag`) removes it all.
 * Needs root; `canCreateNamespaces()` finds out by trying, so tests can skip with its reason.
 *
 * @example
 * const lab = await createNatLab()
 * try {
 *   const relay = await startLabHost(lab, 'relay', TRANSPORT_HOST_SCRIPT, ['--relay-server', '--listen', '/ip4/198.51.100.10/tcp/4001'])
 * } finally {
 *   await lab.teardown()
 * }
 */
export type { LabAddresses, LabNode } from './lib/constants.ts'
export type { DcutrOutcome, DcutrResult } from './lib/dcutr.ts'
export { DCUTR_DEBUG, diagnoseDcutr } from './lib/dcutr.ts'
export { ADDRESSES, LAB_NODES, NAMESPACE_PREFIX, PUBLIC_NET, TAG_PATTERN } from './lib/constants.ts'
export type { NatLabErrorCode } from './lib/errors.ts'
export {
  CommandFailedError,
  HostProcessError,
  InvalidNatTypeError,
  InvalidTagError,
  LabSetupError,
  LabTeardownError,
  LabTimeoutError,
  NatLabError,
  ToolsMissingError,
  UnknownNodeError,
} from './lib/errors.ts'
export type { HostEvent, LabHost, LabHostOptions } from './lib/hosts.ts'
export { announcedIn, DHT_PEER_SCRIPT, LAB_PEER_SCRIPT, RELAY_SCRIPT, startLabHost, startLabRelay, TRANSPORT_HOST_SCRIPT } from './lib/hosts.ts'
export type { Leftovers, Logger, NamespaceCheck, NatLab, NatLabInit } from './lib/lab.ts'
export { canCreateNamespaces, createNatLab, destroyLab, ensureTools, leftovers, listLabs } from './lib/lab.ts'
export type { LabLinks, LabNames, LabNats, NatType, Step } from './lib/plan.ts'
export type { MappingProbe } from './lib/probe.ts'
export { probeMapping } from './lib/probe.ts'
export type { ProbeTarget, Reach } from './lib/reach.ts'
export { reaches, waitUntilReachable } from './lib/reach.ts'
export { setRouterNat } from './lib/retype.ts'
export { buildPlan, checkTag, labNames, NAT_TYPES, randomTag, routerRuleset, tagOfNamespace, UPNP_CHAINS } from './lib/plan.ts'
export type { PairKind, PairTrial } from './lib/pair.ts'
export { compareRttFrom, expectedKind, runPairTrial, sendFrom, startPair, storedBy, upgradeOutcome } from './lib/pair.ts'
export type { RttComparison } from './lib/echo.ts'
export { ECHO_PROTOCOL, EchoFailedError } from './lib/echo.ts'
export type { UpnpPeerStatus, UpnpTrial } from './lib/upnp-pair.ts'
export { expectedUpnpKind, runUpnpTrial, upnpStatusOf, waitForUpnp } from './lib/upnp-pair.ts'
export type { IgdConfig, LabIgd } from './lib/upnp.ts'
export { ensureMiniupnpd, IGD_HTTP_PORT, miniupnpdConf, startIgd } from './lib/upnp.ts'
export type { PublicNet } from './lib/constants.ts'
export { addressesOf, PUBLIC_NETS, ROUTABLE_ADDRESSES, ROUTABLE_NET } from './lib/constants.ts'
