/**
 * What idling costs the code that runs next on this machine. A DHT operation wakes threads that were idle; on a
 * machine whose caches are emptied while a thread sleeps (a VM whose idle vCPUs halt and share their core, a laptop
 * in a power-saving state), the first pass over memory after a pause costs several times a hot pass, and the more
 * memory an operation touches the more it pays. Two probes, each timed hot (back to back) and after pauses:
 * `walk`, a read of one field from each of WALK_OBJECTS objects (about as much memory as a message's path through a
 * JavaScript network stack touches), and `loop`, arithmetic that touches almost no memory (a control: it slows down
 * only if the CPU itself runs slower after a pause). Stated as the opendht bench's conditions: its ratios depend on it.
 */
import { sleep, stats } from './lib.ts'

/** Objects the walk reads one field of (spread over a 200,000-object array, 16 apart). */
const WALK_OBJECTS = 12_500
const SPREAD = 16
/** Iterations of the arithmetic loop. */
const LOOP = 20_000
/** Samples per pause length; each probe runs once after each pause. */
const SAMPLES = 15
const PAUSES_MS = [1, 20, 250] as const

export interface ColdCache {
  /** p50 µs of each probe back to back (hot) and after each pause. */
  walkUs: { hot: number; afterPauseMs: Record<string, number> }
  loopUs: { hot: number; afterPauseMs: Record<string, number> }
  /** The pause the factors are taken after (the longest). */
  factorAfterMs: number
  /** walk after that pause / walk hot: what a pause costs memory-bound code here. */
  walkFactor: number
  /** loop after that pause / loop hot (≈ 1 unless the CPU slows down when idle). */
  loopFactor: number
  note: string
}

const objects = Array.from({ length: WALK_OBJECTS * SPREAD }, (_, i) => ({ a: i, b: `${i}` }))

function walk(): number {
  let s = 0
  for (let i = 0; i < objects.length; i += SPREAD) s += (objects[i] as { a: number }).a
  return s
}

function loop(): number {
  let x = 0
  for (let i = 0; i < LOOP; i++) x = (x * 31 + i) | 0
  return x
}

/** µs of one call. Its result goes to a module-level sink, so the call cannot be optimised away. */
export let sink = 0
function timeUs(fn: () => number): number {
  const t = performance.now()
  sink ^= fn()
  return (performance.now() - t) * 1000
}

const p50 = (xs: number[]): number => Math.round(stats(xs)!.p50 * 10) / 10

/** Run in a process or thread with nothing else to do (after the clusters stopped): ~10 s. */
export async function coldCache(): Promise<ColdCache> {
  // Optimised (the compiler runs concurrently: give it a moment) and hot before the first sample.
  for (let i = 0; i < 3000; i++) {
    timeUs(walk)
    timeUs(loop)
  }
  await sleep(200)
  for (let i = 0; i < 100; i++) {
    timeUs(walk)
    timeUs(loop)
  }
  const hot = { walk: [] as number[], loop: [] as number[] }
  for (let i = 0; i < SAMPLES; i++) {
    hot.walk.push(timeUs(walk))
    hot.loop.push(timeUs(loop))
  }
  const walkAfter: Record<string, number> = {}
  const loopAfter: Record<string, number> = {}
  for (const pause of PAUSES_MS) {
    const w: number[] = []
    const l: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      await sleep(pause)
      w.push(timeUs(walk))
      await sleep(pause)
      l.push(timeUs(loop))
    }
    walkAfter[String(pause)] = p50(w)
    loopAfter[String(pause)] = p50(l)
  }
  const longestMs = PAUSES_MS[PAUSES_MS.length - 1] as number
  const longest = String(longestMs)
  const walkHot = p50(hot.walk)
  const loopHot = p50(hot.loop)
  return {
    walkUs: { hot: walkHot, afterPauseMs: walkAfter },
    loopUs: { hot: loopHot, afterPauseMs: loopAfter },
    factorAfterMs: longestMs,
    walkFactor: Math.round(((walkAfter[longest] as number) / walkHot) * 10) / 10,
    loopFactor: Math.round(((loopAfter[longest] as number) / loopHot) * 10) / 10,
    note: `p50 over ${SAMPLES} runs; walk: one field of each of ${WALK_OBJECTS} objects; loop: ${LOOP} arithmetic steps in registers; each probe hot (back to back) and after a pause of ${PAUSES_MS.join(' / ')} ms`,
  }
}
