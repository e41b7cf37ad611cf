/** The UPnP parts of the lab as data (no root needed): router rulesets, the routable plan, miniupnpd.conf. */
import { describe, expect, test } from 'vitest'
import { ADDRESSES, addressesOf, buildPlan, labNames, miniupnpdConf, ROUTABLE_ADDRESSES, routerRuleset } from '../src/index.ts'

describe('UPnP in the lab plan', () => {
  test('a UPnP router gets the inet table miniupnpd writes into, and lets only DNATed connections in', () => {
    const rules = routerRuleset('natlab_t', 'w0', 'l0', 'symmetric', undefined, { upnp: true })
    expect(rules).toContain('table inet natlab_t {')
    for (const chain of ['upnp_forward', 'upnp_prerouting', 'upnp_postrouting']) expect(rules).toContain(`chain ${chain} {`)
    expect(rules).toContain('iifname "w0" jump upnp_prerouting')
    expect(rules).toContain('iifname "w0" oifname "l0" ct status dnat accept')
    expect(rules).toContain('masquerade random')
    const plain = routerRuleset('natlab_t', 'w0', 'l0', 'symmetric')
    expect(plain).not.toContain('table inet')
    expect(plain).not.toContain('ct status dnat')
  })

  test('the routable plan puts the public hosts on addresses libp2p counts as public, homes unchanged', () => {
    const steps = buildPlan(labNames('t1'), { upnp: { nat1: true } }, addressesOf('routable'))
    const text = steps.map((s) => `${s.args.join(' ')} ${s.input ?? ''}`).join('\n')
    expect(text).toContain(`${ROUTABLE_ADDRESSES.relay}/24`)
    expect(text).toContain(`${ROUTABLE_ADDRESSES.nat1.wan}/24`)
    expect(text).not.toContain(ADDRESSES.relay)
    expect(ROUTABLE_ADDRESSES.a).toBe(ADDRESSES.a)
    // only nat1's ruleset has the UPnP table
    expect(steps.filter((s) => s.input?.includes('table inet')).length).toBe(1)
    expect(addressesOf()).toBe(ADDRESSES)
  })

  test('miniupnpd.conf: IGD on the LAN side only, no NAT-PMP, secure mode, the router table and chains', () => {
    const conf = miniupnpdConf({ wan: 'w0', lan: 'l0', lanNet: '10.0.1.0/24', table: 'natlab_t', dir: '/tmp/x' }, 'uuid-1')
    for (const line of [
      'ext_ifname=w0',
      'listening_ip=l0',
      'enable_natpmp=no',
      'secure_mode=yes',
      'uuid=uuid-1',
      'upnp_table_name=natlab_t',
      'upnp_nat_chain=upnp_prerouting',
      'allow 1024-65535 10.0.1.0/24 1024-65535',
      'deny 0-65535 0.0.0.0/0 0-65535',
    ]) {
      expect(conf.split('\n')).toContain(line)
    }
  })
})
