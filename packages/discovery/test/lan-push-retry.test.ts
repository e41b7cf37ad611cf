import { describe, expect, it } from 'vitest'
import { PushRetries } from '../src/lib/lan-push-retry.ts'
import { waitFor } from './helpers.ts'

/** A push that fails `failures` times, recording what it was asked to carry. */
function flakyPush(failures: number) {
  const calls: Array<{ peer: string; keys: string[] }> = []
  return {
    calls,
    push: async (peer: string, keys: string[]) => {
      calls.push({ peer, keys })
      return calls.length > failures
    },
  }
}

describe('LAN push retries', () => {
  it('pushes the failed keys again with back-off until it works, then holds nothing', async () => {
    const p = flakyPush(2)
    const r = new PushRetries({ push: p.push, attempts: 5, initialMs: 20, maxMs: 80, maxKeys: 100 })
    r.failed('peer-a', ['k1', 'k2'])
    r.failed('peer-a', ['k2', 'k3'])
    expect(r.pending).toBe(3)
    await waitFor(() => p.calls.length === 3 && r.pending === 0, 5000, 'three pushes')
    expect(p.calls.every((c) => c.peer === 'peer-a' && c.keys.sort().join() === 'k1,k2,k3')).toBe(true)
    await new Promise((res) => setTimeout(res, 200))
    expect(p.calls).toHaveLength(3)
  })

  it('gives up after its attempts (the next connection sends everything), and forgets a peer that left', async () => {
    const p = flakyPush(Number.POSITIVE_INFINITY)
    const r = new PushRetries({ push: p.push, attempts: 3, initialMs: 10, maxMs: 40, maxKeys: 100 })
    r.failed('peer-a', ['k1'])
    await waitFor(() => p.calls.length === 3 && r.pending === 0, 5000, 'three failed pushes')
    await new Promise((res) => setTimeout(res, 150))
    expect(p.calls).toHaveLength(3)
    r.failed('peer-b', ['k2'])
    r.forget('peer-b')
    await new Promise((res) => setTimeout(res, 100))
    expect(p.calls).toHaveLength(3)
    expect(r.pending).toBe(0)
  })

  it('keeps at most maxKeys per peer, the newest', async () => {
    const p = flakyPush(0)
    const r = new PushRetries({ push: p.push, attempts: 3, initialMs: 10, maxMs: 40, maxKeys: 4 })
    r.failed('peer-a', Array.from({ length: 1000 }, (_, i) => `k${i}`))
    expect(r.pending).toBe(4)
    await waitFor(() => p.calls.length === 1, 5000, 'the retry')
    expect(p.calls[0]?.keys).toEqual(['k996', 'k997', 'k998', 'k999'])
    r.stop()
  })
})
