import { describe, expect, it } from 'vitest'
import { RecentBodies } from '../src/lib/recent-bodies.ts'

describe('RecentBodies (bodies sealed at rest lately, by their sealed form)', () => {
  it('answers what it was given, forgets the oldest past its byte bound, and anything past its age', () => {
    let now = 0
    // each entry: 10 sealed chars + 5 body chars counted twice = 20 "bytes"
    const recent = new RecentBodies(60, 1000, () => now)
    recent.set('sealed-001', 'body1')
    recent.set('sealed-002', 'body2')
    recent.set('sealed-003', 'body3')
    expect(['sealed-001', 'sealed-002', 'sealed-003'].map((k) => recent.get(k))).toEqual(['body1', 'body2', 'body3'])
    recent.set('sealed-004', 'body4')
    expect(recent.get('sealed-001')).toBeUndefined()
    expect(recent.get('sealed-004')).toBe('body4')
    // the same key again replaces it and counts once
    recent.set('sealed-004', 'body4')
    expect(recent.get('sealed-002')).toBe('body2')
    now = 1001
    expect(recent.get('sealed-004')).toBeUndefined()
    // larger than the whole bound: not kept at all
    recent.set('x'.repeat(61), 'y')
    expect(recent.get('x'.repeat(61))).toBeUndefined()
    expect(recent.get('unknown')).toBeUndefined()
  })
})
