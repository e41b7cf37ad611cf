/** Helpers the naming benchmarks share. */

/** Sample count, p50, p99 and mean (ms, three decimals). */
export function stats(samples: number[]): { n: number; p50: number; p99: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  const round = (x: number) => Math.round(x * 1000) / 1000
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)), mean: round(s.reduce((a, b) => a + b, 0) / s.length) }
}

/** How long `fn` takes (ms). */
export async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}
