import { describe, expect, it } from 'vitest'
import { SeqTracker } from '../src/lib/seq-tracker.ts'
import { expectTrustError } from './fixtures.ts'

describe('SeqTracker', () => {
  it('accepts growing seqs and rejects replays', () => {
    const t = new SeqTracker()
    expect(t.last('k')).toBeUndefined()
    t.check('k', 0)
    t.accept('k', 0)
    expect(t.last('k')).toBe(0)
    expectTrustError(() => t.check('k', 0), 'ReplayedRecordError', 'replayed')
    t.check('k', 1)
    t.accept('k', 5)
    expectTrustError(() => t.check('k', 4), 'ReplayedRecordError', 'replayed')
    expectTrustError(() => t.check('k', Number.NaN), 'ReplayedRecordError', 'replayed')
    t.check('other', 0)
  })

  it('never moves backwards', () => {
    const t = new SeqTracker()
    t.accept('k', 5)
    t.accept('k', 2)
    expect(t.last('k')).toBe(5)
  })

  it('forgets the least recently accepted key beyond maxKeys', () => {
    const t = new SeqTracker({ maxKeys: 2 })
    t.accept('a', 1)
    t.accept('b', 1)
    t.accept('a', 2) // refreshes a
    t.accept('c', 1) // evicts b
    expect(t.last('b')).toBeUndefined()
    expect(t.last('a')).toBe(2)
    expect(t.last('c')).toBe(1)
    expect(t.size).toBe(2)
  })

  it('is bounded at 100_000 keys by default', () => {
    const t = new SeqTracker()
    for (let i = 0; i <= 100_000; i++) t.accept(`k${i}`, i)
    expect(t.size).toBe(100_000)
    expect(t.last('k0')).toBeUndefined()
    expect(t.last('k100000')).toBe(100_000)
  })

  it('rejects bad arguments with MalformedRecordError', () => {
    expectTrustError(() => new SeqTracker({ maxKeys: 0 }), 'MalformedRecordError', 'malformed')
    expectTrustError(() => new SeqTracker().accept('k', 1.5), 'MalformedRecordError', 'malformed')
  })
})
