import { canonicalString } from '@baran/trust'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { syncedText } from '../src/lib/entry-text.ts'
import type { HistoryEntry } from '../src/lib/history-entry.ts'

/** What the generic encoder makes of the synced part (or the error it throws). */
function generic(e: HistoryEntry): string {
  const { storedAt: _s, updatedAt: _u, body: _b, sealed: _x, ...synced } = e
  try {
    return canonicalString(synced)
  } catch (err) {
    return `throws ${(err as Error).message}`
  }
}
function fast(e: HistoryEntry): string {
  try {
    return syncedText(e)
  } catch (err) {
    return `throws ${(err as Error).message}`
  }
}

const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/)
const time = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
const device = fc.record(
  { deviceId: hex40, state: fc.constantFrom('queued', 'delivered', 'expired', 'rejected'), at: time, readAt: time },
  { requiredKeys: ['deviceId', 'state'] },
)
const entry = fc.record(
  {
    v: fc.constant(1),
    id: fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
    peer: hex40,
    direction: fc.constantFrom('in', 'out'),
    from: hex40,
    fromDevice: hex40,
    to: hex40,
    body: fc.string(),
    sealed: fc.string(),
    sentAt: time,
    storedAt: time,
    prev: fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
    devices: fc.array(device, { maxLength: 4 }),
    readAt: time,
    updatedAt: time,
  },
  { requiredKeys: ['v', 'id', 'peer', 'direction', 'from', 'fromDevice', 'to', 'sentAt', 'storedAt', 'updatedAt'] },
) as fc.Arbitrary<HistoryEntry>

describe('synced text of a history entry', () => {
  it('is the generic canonical text for every entry of the schema', () => {
    fc.assert(
      fc.property(entry, (e) => {
        expect(fast(e)).toBe(generic(e))
      }),
      { numRuns: 2000 },
    )
  })

  it('and for shapes outside it: same text, or the same refusal', () => {
    const odd = fc.tuple(entry, fc.constantFrom<(e: HistoryEntry) => unknown>(
      (e) => ({ ...e, extra: 'x' }),
      (e) => ({ ...e, prev: undefined }),
      (e) => ({ ...e, readAt: 1.5 }),
      (e) => ({ ...e, sentAt: -0 }),
      (e) => ({ ...e, from: 7 }),
      (e) => ({ ...e, to: 'é"\\\n\u2028' }),
      (e) => ({ ...e, devices: [{ deviceId: 'a', state: 'queued', extra: true }] }),
      (e) => ({ ...e, devices: [{ deviceId: 'a', state: 'queued', at: undefined }] }),
      (e) => ({ ...e, devices: new Array(2) }),
      (e) => ({ ...e, devices: 'none' }),
      (e) => Object.assign(Object.create(null), e),
      (e) => ({ ...e, [Symbol('s')]: 1 }),
    ))
    fc.assert(
      fc.property(odd, ([e, change]) => {
        const changed = change(e) as HistoryEntry
        expect(fast(changed)).toBe(generic(changed))
      }),
      { numRuns: 500 },
    )
  })
})
