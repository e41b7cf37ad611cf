/**
 * Changes a running lab's router to another NAT type in place (its nftables table is replaced in one `nft -f`
 * transaction), so a test can walk the NAT-type matrix with nodes that start once. Flows already tracked keep the
 * translation they were made with: start new connections (e.g. restart the peers' transports) after a change.
 */
import { InvalidNatTypeError } from './errors.ts'
import type { NatLab } from './lab.ts'
import { NAT_TYPES, type NatType, routerRuleset } from './plan.ts'

export async function setRouterNat(lab: NatLab, router: 'nat1' | 'nat2', type: NatType): Promise<void> {
  if (!(NAT_TYPES as readonly string[]).includes(type)) throw new InvalidNatTypeError(`not a NAT type: ${String(type)} (one of ${NAT_TYPES.join(', ')})`)
  if (lab.nats.upnp[router] || (router === 'nat2' && lab.nats.cgnat)) {
    throw new InvalidNatTypeError(`router ${router} runs UPnP or sits behind the carrier NAT: build a new lab for another type`)
  }
  const l = lab.names.links
  const [wan, lan, host] = router === 'nat1' ? [l.nat1Wan, l.nat1Lan, lab.addresses.a] : [l.nat2Wan, l.nat2Lan, lab.addresses.b]
  const table = lab.names.table
  // delete and re-create in one transaction: no moment without the drop policy
  const script = `table ip ${table}\ndelete table ip ${table}\n${routerRuleset(table, wan, lan, type, host)}`
  await lab.exec(router, 'nft', ['-f', '-'], script)
}
