/** Percentiles of a sample, in the unit of the sample. */
export function percentiles(samples: number[]): { p50: number; p99: number; mean: number; n: number } {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), n: s.length }
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits
