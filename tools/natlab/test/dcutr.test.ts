/** Reading DCUtR's outcome from host events and libp2p debug logs (lines as the lab printed them). */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { diagnoseDcutr } from '../src/index.ts'

const P = '12D3KooWLs9w2bknsaMff2VB7B3mEs15xRhu171DCWQxVoogeH8j'
const at = (s: string) => `2026-11-26T15:15:22.684Z ${s}`
const view = (lines: string[], events: Array<{ event: string; [k: string]: unknown }> = []) => ({ events, stderr: lines.map(at).join('\n') })

const observedA = at(`libp2p:identify:trace our observed address was /ip4/198.51.100.11/tcp/51688/p2p/${P}`)
const noDialable = 'libp2p:dcutr B had no dialable multiaddrs in [ Multiaddr(/ip4/10.0.2.2/tcp/4001) ]'
const attempt = (n: number) => `libp2p:dcutr:error error while attempting DCUtR on attempt ${n} of 3 - StreamResetError: The stream has been reset`

describe('diagnoseDcutr', () => {
  test('no dialable addresses on either side, after the last attempt', () => {
    const a = view(['libp2p:dcutr A receiving connect', noDialable, noDialable, noDialable])
    a.stderr += `\n${observedA}`
    const b = view([`libp2p:dcutr peer ${P} has no public addresses, not attempting unilateral connection upgrade`, attempt(1), attempt(2), attempt(3)])
    const out = diagnoseDcutr(a, b)
    expect(out.result).toBe('no-dialable-addresses')
    expect(out.reason).toContain('private')
    expect(out.observed.a).toEqual([`/ip4/198.51.100.11/tcp/51688/p2p/${P}`])
    expect(out.log.every((l) => !l.includes(P))).toBe(true)
    expect(out.log[0]).toBe('A: libp2p:dcutr A receiving connect')
  })

  test('still retrying is pending', () => {
    expect(diagnoseDcutr(view([noDialable]), view([attempt(1)])).result).toBe('pending')
    expect(diagnoseDcutr(view([]), view(['libp2p:dcutr B sending connect to x'])).result).toBe('pending')
  })

  test('an upgraded connection event, or a success line, is an upgrade', () => {
    const ev = { event: 'connection', type: 'open', kind: 'upgraded', remoteAddr: '/ip4/198.51.100.12/tcp/4001' }
    expect(diagnoseDcutr(view([], [ev]), view([])).result).toBe('upgraded')
    expect(diagnoseDcutr(view([]), view([`libp2p:dcutr DCUtR to ${P} succeeded to address /ip4/1.2.3.4, closing relayed connection`])).result).toBe('upgraded')
  })

  test('dials that fail after the exchange', () => {
    const b = view([attempt(1), attempt(2), 'libp2p:dcutr:error error while attempting DCUtR on attempt 3 of 3 - Error: dial ETIMEDOUT'])
    expect(diagnoseDcutr(view([]), b).result).toBe('dial-failed')
    const odd = view([attempt(1), attempt(2), 'libp2p:dcutr:error error while attempting DCUtR on attempt 3 of 3 - Error: bad message'])
    expect(diagnoseDcutr(view([]), odd).result).toBe('failed')
  })

  test('no DCUtR lines at all', () => {
    expect(diagnoseDcutr(view(['libp2p:identify completed']), view([])).result).toBe('not-attempted')
  })

  test('never throws on arbitrary logs and events', () => {
    const anyEvent = fc.record({ event: fc.string(), type: fc.anything(), kind: fc.anything(), remoteAddr: fc.anything() })
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.array(anyEvent), (sa, sb, evs) => {
        const out = diagnoseDcutr({ events: evs, stderr: sa }, { events: [], stderr: sb })
        expect(typeof out.reason).toBe('string')
      }),
    )
  })
})
