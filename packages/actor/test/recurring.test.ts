import { describe, expect, it } from 'vitest'
import { Backoff, dependency, pause, periodic, retry } from '../src/index.ts'
import { silentLogger } from '../src/index.ts'

/** Polls `cond` every 5 ms until it holds or `timeoutMs` passes (then throws). */
async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs, adds bounded jitter, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50 })
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 50, 50])
    b.reset()
    expect(b.next()).toBe(10)
    const jittered = new Backoff({ initialMs: 100, maxMs: 100, jitter: 0.5 }, () => 0.999)
    expect(jittered.next()).toBe(149)
  })

  it('after(failures) gives the same schedule without state; spread "around" centres the jitter on the delay, "down" keeps it below', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50 })
    expect([0, 1, 2, 3, 4, 2000].map((n) => b.after(n))).toEqual([10, 10, 20, 40, 50, 50])
    expect(b.next()).toBe(10)
    const around = (r: number) => new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, spread: 'around' }, () => r)
    expect([around(0).after(1), around(0.5).after(1), around(0.999_999).after(1)]).toEqual([500, 1000, 1500])
    const down = (r: number) => new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, spread: 'down' }, () => r)
    expect([down(0).after(1), down(0.5).after(1), down(0.999_999).after(1)]).toEqual([500, 750, 1000])
    expect(new Backoff({ initialMs: 0, maxMs: 0 }).after(5000)).toBe(0)
  })

  it('refuses options that are not a back-off, with a typed error', () => {
    for (const bad of [{ initialMs: -1 }, { initialMs: 10, maxMs: 5 }, { factor: 0.5 }, { jitter: 2 }, { initialMs: Number.NaN }]) {
      expect(() => new Backoff(bad)).toThrowError(expect.objectContaining({ name: 'InvalidBackoffError' }))
    }
  })
})

describe('pause', () => {
  it('waits, and answers false at once when the signal aborts', async () => {
    const stop = new AbortController()
    expect(await pause(5, stop.signal)).toBe(true)
    const started = Date.now()
    const waiting = pause(60_000, stop.signal)
    stop.abort()
    expect(await waiting).toBe(false)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe('retry', () => {
  it('retries with back-off until the work succeeds, and says so before each retry', async () => {
    const stop = new AbortController()
    const told: number[] = []
    let calls = 0
    const result = await retry(
      async (attempt) => {
        calls++
        if (attempt < 4) throw new Error(`attempt ${attempt}`)
        return 'done'
      },
      { initialMs: 2, maxMs: 8, signal: stop.signal, onRetry: (_e, _attempt, wait) => void told.push(wait) },
    )
    expect(result).toBe('done')
    expect(calls).toBe(4)
    expect(told).toEqual([2, 4, 8])
  })

  it('gives up with the last error after `attempts`, or at once when retryIf refuses', async () => {
    const signal = new AbortController().signal
    let calls = 0
    const failing = async (attempt: number) => {
      calls++
      throw new Error(`attempt ${attempt}`)
    }
    await expect(retry(failing, { initialMs: 1, attempts: 3, signal })).rejects.toThrow('attempt 3')
    expect(calls).toBe(3)
    calls = 0
    await expect(retry(failing, { initialMs: 1, signal, retryIf: () => false })).rejects.toThrow('attempt 1')
    expect(calls).toBe(1)
  })

  it('honours stop: an abort during the back-off ends it with RetryStoppedError, and no attempt follows', async () => {
    const stop = new AbortController()
    let calls = 0
    const running = retry(
      async () => {
        calls++
        throw new Error('down')
      },
      { initialMs: 60_000, signal: stop.signal },
    )
    await until(() => calls === 1)
    stop.abort()
    await expect(running).rejects.toMatchObject({ name: 'RetryStoppedError' })
    await new Promise((r) => setTimeout(r, 20))
    expect(calls).toBe(1)
  })

  it('with delayFirst waits one delay before the first attempt', async () => {
    const stop = new AbortController()
    let calls = 0
    const running = retry(async () => void calls++, { initialMs: 60_000, delayFirst: true, signal: stop.signal })
    await new Promise((r) => setTimeout(r, 20))
    expect(calls).toBe(0)
    stop.abort()
    await expect(running).rejects.toMatchObject({ name: 'RetryStoppedError' })
  })
})

describe('periodic', () => {
  it('runs the task every period, never two at once, goes on after a failure, and stops with the signal', async () => {
    const stop = new AbortController()
    let runs = 0
    let concurrent = 0
    let maxConcurrent = 0
    periodic(
      async () => {
        runs++
        concurrent++
        maxConcurrent = Math.max(maxConcurrent, concurrent)
        await new Promise((r) => setTimeout(r, 10))
        concurrent--
        if (runs === 2) throw new Error('one bad run')
      },
      2,
      { signal: stop.signal, log: silentLogger() },
    )
    await until(() => runs >= 4)
    stop.abort()
    await new Promise((r) => setTimeout(r, 30))
    const after = runs
    await new Promise((r) => setTimeout(r, 40))
    expect(runs).toBe(after)
    expect(maxConcurrent).toBe(1)
  })

  it('runNow runs at once (joining a run in progress) and stop() ends it', async () => {
    const stop = new AbortController()
    let runs = 0
    const task = periodic(() => void runs++, 60_000, { signal: stop.signal })
    await Promise.all([task.runNow(), task.runNow()])
    expect(runs).toBe(1)
    task.stop()
    stop.abort()
  })
})

describe('dependency', () => {
  /** The degrade/recover calls an actor would get, in order. */
  function fakeActor() {
    const calls: string[] = []
    const stop = new AbortController()
    return { calls, stop, ctx: { signal: stop.signal, log: silentLogger(), degrade: (r: string) => void calls.push(`degrade ${r}`), recover: (r: string) => void calls.push(`recover ${r}`) } }
  }

  it('degrades the actor while the dependency is down, retries with back-off, and recovers once it answers', async () => {
    const { calls, stop, ctx } = fakeActor()
    let available = false
    let attempts = 0
    const dep = dependency(ctx, {
      reason: 'credentials',
      initialMs: 2,
      maxMs: 10,
      connect: async () => {
        attempts++
        return available
      },
    })
    expect(await dep.check()).toBe(false)
    expect(dep.up).toBe(false)
    await until(() => attempts >= 3)
    available = true
    await until(() => dep.up)
    expect(calls[0]).toBe('degrade credentials')
    expect(calls.at(-1)).toBe('recover credentials')
    const settled = attempts
    await new Promise((r) => setTimeout(r, 40))
    expect(attempts).toBe(settled)
    stop.abort()
  })

  it('a later failed check degrades it again, and a stop ends the retries', async () => {
    const { calls, stop, ctx } = fakeActor()
    let available = true
    let attempts = 0
    const dep = dependency(ctx, {
      reason: 'chain',
      initialMs: 2,
      connect: async () => {
        attempts++
        if (!available) throw new Error('no answer')
      },
    })
    expect(await dep.check()).toBe(true)
    available = false
    expect(await dep.check()).toBe(false)
    expect(calls).toEqual(['recover chain', 'degrade chain'])
    await until(() => attempts >= 4)
    stop.abort()
    await new Promise((r) => setTimeout(r, 20))
    const atStop = attempts
    await new Promise((r) => setTimeout(r, 40))
    expect(attempts).toBe(atStop)
  })
})
