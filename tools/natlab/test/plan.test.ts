/** The lab plan as data: names, commands and ruleset, checked without root. */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { ADDRESSES, buildPlan, checkTag, LAB_NODES, labNames, NAT_TYPES, randomTag, routerRuleset, TAG_PATTERN, tagOfNamespace } from '../src/index.ts'

const validTag = fc.stringMatching(/^[a-z0-9]{1,6}$/)

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a throw')
}

describe('tags and names', () => {
  test('random tags are valid, and differ', () => {
    const tags = new Set(Array.from({ length: 50 }, () => randomTag()))
    for (const t of tags) expect(t).toMatch(TAG_PATTERN)
    expect(tags.size).toBeGreaterThan(45)
    expect(randomTag(() => 0.999999)).toBe('999999')
  })

  test('every name carries the tag; interface names fit in 15 characters', () => {
    fc.assert(
      fc.property(validTag, (tag) => {
        const n = labNames(tag)
        for (const node of LAB_NODES) {
          expect(n.namespaces[node]).toContain(tag)
          expect(tagOfNamespace(n.namespaces[node])).toBe(tag)
        }
        for (const link of Object.values(n.links)) {
          expect(link.startsWith(`nl${tag}`)).toBe(true)
          expect(link.length).toBeLessThanOrEqual(15)
        }
        expect(new Set(Object.values(n.links)).size).toBe(Object.keys(n.links).length)
        expect(n.table).toBe(`natlab_${tag}`)
      }),
    )
  })

  test('a bad tag is refused with a typed error', () => {
    const bad = fc.oneof(
      fc.string().filter((s) => !TAG_PATTERN.test(s)),
      fc.constantFrom('', 'abcdefg', 'ABC', 'a-b', 'a b', '../x', 'é'),
      fc.anything().filter((v) => typeof v !== 'string'),
    )
    fc.assert(
      fc.property(bad, (tag) => {
        const err = thrown(() => checkTag(tag))
        expect(err.name).toBe('InvalidTagError')
        expect(err.code).toBe('invalid_tag')
        expect(thrown(() => labNames(tag as string)).name).toBe('InvalidTagError')
      }),
    )
  })

  test('tagOfNamespace knows only lab namespace names', () => {
    expect(tagOfNamespace('natlab-abc123-relay')).toBe('abc123')
    expect(tagOfNamespace('natlab-abc123-nowhere')).toBeUndefined()
    expect(tagOfNamespace('natlab-probe-x1')).toBeUndefined()
    expect(tagOfNamespace('other-abc-a')).toBeUndefined()
    fc.assert(fc.property(fc.string(), (s) => {
      const t = tagOfNamespace(s)
      if (t !== undefined) expect(t).toMatch(TAG_PATTERN)
    }))
  })
})

describe('the plan', () => {
  const names = labNames('t0')
  const plan = buildPlan(names)
  const labNs = new Set(Object.values(names.namespaces))

  test('every command acts inside one of the lab namespaces (nothing in the real network)', () => {
    for (const step of plan) {
      expect(step.cmd).toBe('ip')
      const [first, second, third] = step.args
      if (first === 'netns') {
        expect(['add', 'exec']).toContain(second)
        expect(labNs.has(third!)).toBe(true)
      } else {
        expect(first).toBe('-n')
        expect(labNs.has(second!)).toBe(true)
      }
      // a veth's far end goes into a lab namespace too
      const i = step.args.indexOf('netns', 1)
      if (i > 0 && step.args[0] === '-n') expect(labNs.has(step.args[i + 1]!)).toBe(true)
    }
  })

  test('only the homes have a default route, and it points at their own router', () => {
    const routes = plan.filter((s) => s.args.includes('route'))
    expect(routes.map((s) => [s.args[1], s.args.at(-1)])).toEqual([
      [names.namespaces.a, ADDRESSES.nat1.lan],
      [names.namespaces.b, ADDRESSES.nat2.lan],
    ])
  })

  test('addresses: TEST-NET-2 for the public network, 10.0.x.0/24 for the homes', () => {
    const addrs = plan.filter((s) => s.args.includes('addr')).map((s) => s.args[4])
    expect(addrs.sort()).toEqual(['10.0.1.1/24', '10.0.1.2/24', '10.0.2.1/24', '10.0.2.2/24', '198.51.100.10/24', '198.51.100.11/24', '198.51.100.12/24'])
  })

  test('each router gets a masquerade ruleset on its own WAN link', () => {
    const nft = plan.filter((s) => s.input !== undefined)
    expect(nft).toHaveLength(2)
    expect(nft[0]!.args.slice(0, 3)).toEqual(['netns', 'exec', names.namespaces.nat1])
    expect(nft[0]!.input).toBe(routerRuleset(names.table, names.links.nat1Wan, names.links.nat1Lan))
    expect(nft[1]!.input).toContain(`oifname "${names.links.nat2Wan}" masquerade`)
  })

  test('the ruleset masquerades out, lets only replies in, and drops unsolicited traffic', () => {
    const r = routerRuleset('natlab_x', 'wan0', 'lan0')
    expect(r).toContain('table ip natlab_x')
    expect(r).toContain('oifname "wan0" masquerade')
    expect(r).toContain('iifname "wan0" oifname "lan0" ct state established,related accept')
    expect(r.match(/policy drop/g)).toHaveLength(2)
  })

  test('NAT types: full cone forwards unsolicited UDP to the LAN host; symmetric randomises the mapping', () => {
    const cone = routerRuleset('natlab_x', 'wan0', 'lan0', 'full-cone', '10.0.1.2')
    expect(cone).toContain('iifname "wan0" udp dport 1024-65535 dnat to 10.0.1.2')
    expect(cone).toContain('ct status dnat accept')
    expect(cone).not.toContain('masquerade random')
    const sym = routerRuleset('natlab_x', 'wan0', 'lan0', 'symmetric')
    expect(sym).toContain('oifname "wan0" masquerade random')
    expect(sym).not.toContain('dnat')
    expect(routerRuleset('natlab_x', 'wan0', 'lan0')).toBe(routerRuleset('natlab_x', 'wan0', 'lan0', 'port-restricted'))
    expect(NAT_TYPES).toEqual(['port-restricted', 'full-cone', 'symmetric'])
    for (const bad of [() => routerRuleset('t', 'w', 'l', 'cone' as 'full-cone'), () => routerRuleset('t', 'w', 'l', 'full-cone')]) {
      expect(bad).toThrow(expect.objectContaining({ name: 'InvalidNatTypeError', code: 'invalid_nat_type' }))
    }
    const plan = buildPlan(names, { nat1: 'symmetric', nat2: 'full-cone' })
    const nft = plan.filter((s) => s.input !== undefined)
    expect(nft[0]!.input).toContain('masquerade random')
    expect(nft[1]!.input).toContain(`dnat to ${ADDRESSES.b}`)
  })

  test('carrier-grade NAT: home 2’s router gets 100.64.0.2/10 and routes through the carrier’s NAT', () => {
    const plan = buildPlan(names, { cgnat: true })
    expect(plan.filter((s) => s.args[1] === 'add' && s.args[0] === 'netns').map((s) => s.args[2])).toContain(names.namespaces.cgn)
    expect(buildPlan(names).some((s) => s.args.includes(names.namespaces.cgn))).toBe(false)
    const addrs = plan.filter((s) => s.args.includes('addr')).map((s) => s.args[4])
    expect(addrs).toEqual(expect.arrayContaining(['100.64.0.1/10', '100.64.0.2/10', '198.51.100.13/24']))
    expect(addrs).not.toContain('198.51.100.12/24')
    const routes = plan.filter((s) => s.args.includes('route')).map((s) => [s.args[1], s.args.at(-1)])
    expect(routes).toContainEqual([names.namespaces.nat2, ADDRESSES.cgn.lan])
    const nft = plan.filter((s) => s.input !== undefined)
    expect(nft).toHaveLength(3)
    expect(nft[2]!.args.slice(0, 3)).toEqual(['netns', 'exec', names.namespaces.cgn])
    expect(nft[2]!.input).toContain(`oifname "${names.links.cgnWan}" masquerade`)
  })
})
