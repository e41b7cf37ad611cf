import { getEventListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { deadline, settleBy, withDeadline } from '../src/lib/deadline.ts'

/** V8's gc() in this worker (a process-wide flag; harmless to the other tests). */
function exposedGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** How many of the signals are still alive after full collections (a WeakRef holds its target to the end of a job). */
async function survivors(refs: WeakRef<AbortSignal>[]): Promise<number> {
  const gc = exposedGc()
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  return refs.filter((r) => r.deref() !== undefined).length
}

describe('deadline', () => {
  it('aborts with a TimeoutError when the time is up, and says it timed out', async () => {
    const d = deadline(20)
    expect(d.signal.aborted).toBe(false)
    await sleep(60)
    expect(d.signal.aborted).toBe(true)
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError')
    expect(d.timedOut).toBe(true)
  })

  it("aborts with the first parent's reason and stops its timer; undefined parents are skipped", async () => {
    const a = new AbortController()
    const b = new AbortController()
    const d = deadline(30, a.signal, undefined, b.signal)
    b.abort(new Error('caller gave up'))
    expect(d.signal.aborted).toBe(true)
    expect((d.signal.reason as Error).message).toBe('caller gave up')
    expect(d.timedOut).toBe(false)
    // it no longer follows the other parent, nor times out later
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0)
    await sleep(60)
    expect(d.timedOut).toBe(false)
  })

  it('is aborted at once when a parent already is', () => {
    const a = new AbortController()
    a.abort(new Error('already'))
    const d = deadline(10_000, a.signal)
    expect(d.signal.aborted).toBe(true)
    expect((d.signal.reason as Error).message).toBe('already')
  })

  it('refuses a negative or NaN time; beyond a timer\'s range (Infinity too) it never times out', async () => {
    expect(() => deadline(-1)).toThrow(RangeError)
    expect(() => deadline(Number.NaN)).toThrow(RangeError)
    const parent = new AbortController()
    const forever = deadline(Number.POSITIVE_INFINITY, parent.signal)
    const long = deadline(2 ** 31, parent.signal)
    await sleep(20)
    expect([forever.signal.aborted, long.signal.aborted]).toEqual([false, false])
    parent.abort(new Error('stop'))
    expect([forever.signal.aborted, long.signal.aborted]).toEqual([true, true])
  })

  it('released: never aborts, and leaves no listener on its parents', async () => {
    const parent = new AbortController()
    const d = deadline(20, parent.signal)
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    d.release()
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
    await sleep(60)
    parent.abort()
    expect(d.signal.aborted).toBe(false)
  })

  it('withDeadline releases when the operation settles, fulfilled or not', async () => {
    const parent = new AbortController()
    await expect(withDeadline(10_000, [parent.signal], async (signal) => (signal.aborted ? 'aborted' : 'done'))).resolves.toBe('done')
    await expect(withDeadline(10_000, [parent.signal], async () => Promise.reject(new Error('failed')))).rejects.toThrow('failed')
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
    const timedOut = withDeadline(20, [parent.signal], (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))))
    await expect(timedOut).rejects.toMatchObject({ name: 'TimeoutError' })
  })

  // The reason it exists: in Node 22, AbortSignal.any([longLived, AbortSignal.timeout(ms)]) stays in an internal set
  // for as long as longLived lives, timed out or not (nodejs/node#64476); a discovery node that looked up a key
  // every second grew by ~1 MiB an hour. Deadlines on a long-lived parent must all be collectable.
  it('deadlines on a long-lived parent are collected, whether they timed out, were released or are forgotten', async () => {
    const parent = new AbortController()
    // (made in a plain function: an async function's frame may hold the last one it made)
    const make = (): WeakRef<AbortSignal>[] => {
      const refs: WeakRef<AbortSignal>[] = []
      for (let i = 0; i < 300; i++) refs.push(new WeakRef(deadline(1, parent.signal).signal))
      for (let i = 0; i < 300; i++) {
        const d = deadline(60_000, parent.signal)
        d.release()
        refs.push(new WeakRef(d.signal))
      }
      return refs
    }
    const refs = make()
    await sleep(50)
    expect(await survivors(refs)).toBe(0)
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
  })
})

describe('settleBy', () => {
  it("settles as the promise does while the signal stays; no signal is the promise itself; no listener is left", async () => {
    const c = new AbortController()
    await expect(settleBy(Promise.resolve('done'), c.signal)).resolves.toBe('done')
    await expect(settleBy(Promise.reject(new Error('failed')), c.signal)).rejects.toThrow('failed')
    const p = Promise.resolve(1)
    expect(settleBy(p, undefined)).toBe(p)
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  })

  it("rejects once the signal aborts, with the signal's reason or the error given; the loser's own rejection is handled", async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      const c = new AbortController()
      let fail: (e: Error) => void = () => {}
      const slow = new Promise<never>((_, reject) => {
        fail = reject
      })
      const plain = settleBy(slow, c.signal)
      const named = settleBy(slow, c.signal, () => new RangeError('gave up'))
      c.abort(new Error('stop'))
      await expect(plain).rejects.toThrow('stop')
      await expect(named).rejects.toThrow(RangeError)
      // Already aborted: at once, and the promise's later failure is nobody's.
      const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('too late')), 5))
      await expect(settleBy(late, c.signal, () => new Error('aborted before'))).rejects.toThrow('aborted before')
      fail(new Error('lost the race'))
      await sleep(30)
      expect(unhandled).toEqual([])
      expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
