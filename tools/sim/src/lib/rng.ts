/** A seeded PRNG (mulberry32): the same seed gives the same senders, recipients, churn and losses. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number
  /** Integer in [0, n). */
  int(n: number): number
  /** Uniform in [min, max). */
  between(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  /** k distinct items (k ≤ items.length), in random order. */
  sample<T>(items: readonly T[], k: number): T[]
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return {
    next,
    int,
    between: (min, max) => min + next() * (max - min),
    pick: (items) => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[int(items.length)] as (typeof items)[number]
    },
    sample: (items, k) => {
      const copy = [...items]
      // Partial Fisher–Yates: the first k slots end up a uniform sample.
      for (let i = 0; i < Math.min(k, copy.length); i++) {
        const j = i + int(copy.length - i)
        ;[copy[i], copy[j]] = [copy[j] as (typeof copy)[number], copy[i] as (typeof copy)[number]]
      }
      return copy.slice(0, Math.min(k, copy.length))
    },
  }
}
