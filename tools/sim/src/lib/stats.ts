/** Percentiles of a sample (nearest rank); `null` fields when the sample is empty. */
export interface Percentiles {
  count: number
  min: number | null
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
  mean: number | null
}

const round = (x: number) => Math.round(x * 10) / 10

export function percentiles(xs: readonly number[]): Percentiles {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return { count: 0, min: null, p50: null, p90: null, p99: null, max: null, mean: null }
  const at = (q: number) => round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number)
  return {
    count: s.length,
    min: round(s[0] as number),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: round(s[s.length - 1] as number),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
  }
}

/** Adds `from`'s counts into `into` (by name) and returns it. */
export function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
  return into
}
