import { describe, expect, it } from 'vitest'
import { describeUpnp } from '../src/cli/connections.ts'

describe('describeUpnp: the `upnp` line of `baran status`', () => {
  const mapped = {
    state: 'mapped' as const,
    gateway: '10.0.2.1:5000',
    internalAddr: '/ip4/10.0.2.2/tcp/4001',
    externalAddr: '/ip4/11.0.100.12/tcp/4001',
    leaseSeconds: 3600,
    verified: true,
  }

  it('off, or why there is no mapping', () => {
    expect(describeUpnp(undefined)).toContain('off')
    expect(describeUpnp({ state: 'no-gateway', reason: 'no UPnP IGD answered on the LAN within 2000 ms' })).toContain('no-gateway')
  })

  it('a verified mapping, its gateway and lease; a lost one made again says so', () => {
    const line = describeUpnp(mapped)
    expect(line).toContain('/ip4/10.0.2.2/tcp/4001 → /ip4/11.0.100.12/tcp/4001 on 10.0.2.1:5000')
    expect(line).toContain('verified by a dial-back, announced')
    expect(line).not.toContain('no peer to dial it back')
    expect(describeUpnp({ ...mapped, remapped: 2 })).toContain('mapped again 2×')
  })

  it('a re-check that nobody could make: kept, and the line says when and why', () => {
    const at = Date.parse('2026-12-04T21:50:07Z')
    expect(describeUpnp({ ...mapped, lastCheck: { outcome: 'unknown', at } })).toContain('last re-check 21:50:07 found no peer to dial it back (kept)')
    expect(describeUpnp({ ...mapped, lastCheck: { outcome: 'reached', at } })).not.toContain('no peer')
  })
})
