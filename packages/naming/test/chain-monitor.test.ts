import { describe, expect, it } from 'vitest'
import { ChainMonitor } from '../src/index.ts'
import { createProvider, startDevnet } from '../src/lib/devnet.ts'
import { waitFor } from './helpers.ts'

describe('ChainMonitor', () => {
  it('reports a real chain up, then down when anvil stops', async () => {
    const devnet = await startDevnet()
    const provider = createProvider(devnet.rpcUrl, { chainId: devnet.chainId, timeoutMs: 500 })
    const changes: boolean[] = []
    const m = new ChainMonitor({ probe: () => provider.getBlockNumber(), intervalMs: 50, onChange: (up) => void changes.push(up) })
    try {
      expect(await m.start()).toBe(true)
      expect(m.up).toBe(true)
      expect(m.blockNumber).toBeGreaterThanOrEqual(1)
      await devnet.stop()
      await waitFor(async () => (changes.length === 2 ? true : undefined), 'down')
      expect(changes).toEqual([true, false])
      expect(m.up).toBe(false)
    } finally {
      m.stop()
      provider.destroy()
      await devnet.stop()
    }
  })

  it('never runs two probes at once, and counts a slow probe as down', async () => {
    let running = 0
    let most = 0
    let calls = 0
    const m = new ChainMonitor({
      probe: async () => {
        calls++
        running++
        most = Math.max(most, running)
        await new Promise((r) => setTimeout(r, calls === 1 ? 30 : 200))
        running--
        return calls
      },
      intervalMs: 10,
      timeoutMs: 100,
      onChange: () => {},
    })
    try {
      const first = [m.start(), m.checkNow(), m.checkNow()]
      expect(await Promise.all(first)).toEqual([true, true, true])
      expect(calls).toBe(1)
      expect(await m.checkNow()).toBe(false) // 200 ms > 100 ms timeout
      expect(most).toBe(1)
    } finally {
      m.stop()
    }
  })

  it('calls back only on changes, and stops probing after stop()', async () => {
    const answers = [true, true, false, false, true]
    let i = 0
    const changes: boolean[] = []
    const m = new ChainMonitor({
      probe: async () => {
        const ok = answers[Math.min(i++, answers.length - 1)]
        if (!ok) throw new Error('ECONNREFUSED')
        return i
      },
      intervalMs: 5,
      onChange: (up) => void changes.push(up),
    })
    await m.start()
    await waitFor(async () => (i >= answers.length + 2 ? true : undefined), 'probes')
    m.stop()
    expect(changes).toEqual([true, false, true])
    const after = i
    await new Promise((r) => setTimeout(r, 50))
    expect(i).toBeLessThanOrEqual(after + 1)
  })
})
