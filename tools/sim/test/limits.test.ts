import { describe, expect, it } from 'vitest'
import { descriptorsFor, filesFor } from '../src/lib/constants.ts'
import { fileLimit, raiseFileLimit } from '../src/lib/limits.ts'

describe('open-file limit', () => {
  it('reads the limit from /proc and leaves a high enough one alone', () => {
    const limit = fileLimit()
    expect(limit?.soft).toBeGreaterThan(0)
    expect(limit?.hard).toBeGreaterThanOrEqual(limit?.soft ?? 0)
    expect(raiseFileLimit(limit?.soft ?? 0)).toEqual({ before: limit?.soft, after: limit?.soft })
  })

  it('raises a lower limit where it may (below the hard limit, or with CAP_SYS_RESOURCE), and says what is in force', () => {
    const soft = fileLimit()?.soft ?? 0
    const r = raiseFileLimit(soft + 16)
    expect(r.before).toBe(soft)
    expect([soft, soft + 16]).toContain(r.after)
    expect(fileLimit()?.soft).toBe(r.after)
  })

  it('estimates descriptors as measured: 100 nodes fit in 20 000, 200 do not (about 195 used it up)', () => {
    expect(filesFor(100)).toBeLessThan(20_000)
    expect(filesFor(200)).toBeGreaterThan(20_000)
    expect(filesFor(400)).toBeGreaterThan(4 * filesFor(200) * 0.9)
    // what the bench checks before a larger run: 150 nodes ran within 20 000, 200 ran out at the 195th
    expect(descriptorsFor(150)).toBeLessThan(20_000)
    expect(descriptorsFor(195)).toBeGreaterThan(20_000)
    expect(filesFor(200)).toBeGreaterThan(descriptorsFor(200))
  })
})
