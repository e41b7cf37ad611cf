import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ReadRanges } from '../src/lib/read-ranges.ts'

describe('ReadRanges', () => {
  it('merges neighbours and answers has/count/nextUnread/countIn', () => {
    const r = new ReadRanges()
    for (const x of [3, 1, 2, 7, 5, 6]) expect(r.add(x)).toBe(true)
    expect(r.add(2)).toBe(false)
    expect(r.toJSON()).toEqual([
      [1, 3],
      [5, 7],
    ])
    expect(r.count).toBe(6)
    expect(r.nextUnread(1)).toBe(4)
    expect(r.nextUnread(4)).toBe(4)
    expect(r.nextRead(4)).toBe(5)
    expect(r.nextRead(8)).toBe(Number.POSITIVE_INFINITY)
    expect(r.countIn(2, 6)).toBe(4)
    expect(new ReadRanges(r.toJSON()).toJSON()).toEqual(r.toJSON())
  })

  it('agrees with a plain set for any adds (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 80 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 30 }), (adds, from, len) => {
        const r = new ReadRanges()
        const s = new Set<number>()
        for (const x of adds) expect(r.add(x)).toBe(!s.has(x) && s.add(x) !== undefined)
        expect(r.count).toBe(s.size)
        for (let x = 1; x <= 62; x++) expect(r.has(x)).toBe(s.has(x))
        let u = from
        while (s.has(u)) u++
        expect(r.nextUnread(from)).toBe(u)
        expect(r.countIn(from, from + len)).toBe([...s].filter((x) => x >= from && x <= from + len).length)
        const ranges = r.toJSON()
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1] + 1)
        expect(new ReadRanges(ranges).count).toBe(s.size)
      }),
      { numRuns: 300 },
    )
  })
})
