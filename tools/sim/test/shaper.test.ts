import { describe, expect, it } from 'vitest'
import { createRng, LinkShaper } from '../src/index.ts'

describe('LinkShaper', () => {
  it('passes sends through untouched when there is no latency and no loss', async () => {
    const s = new LinkShaper({ latencyMs: 0, lossRate: 0 }, createRng(1))
    expect(s.active).toBe(false)
    await expect(s.shape(async () => 'ok')).resolves.toBe('ok')
  })

  it('delays the envelope and the ack', async () => {
    const s = new LinkShaper({ latencyMs: 20, lossRate: 0 }, createRng(1))
    let sentAt = 0
    const t0 = Date.now()
    await s.shape(async () => {
      sentAt = Date.now()
    })
    // Timers never fire early: the send waited one delay, the reply another.
    expect(sentAt - t0).toBeGreaterThanOrEqual(19)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(39)
  })

  it('loses envelopes (never sent) and acks (sent, then a timeout) with a bus timeout error', async () => {
    const s = new LinkShaper({ latencyMs: 0, lossRate: 0.5 }, createRng(42))
    let delivered = 0
    let failed = 0
    for (let i = 0; i < 200; i++) {
      try {
        await s.shape(async () => void delivered++)
      } catch (e) {
        expect((e as { name: string; code: string }).name).toBe('BusError')
        expect((e as { code: string }).code).toBe('timeout')
        failed++
      }
    }
    expect(s.stats.sends).toBe(200)
    expect(s.stats.lostEnvelopes + s.stats.lostAcks).toBe(failed)
    expect(delivered).toBe(200 - s.stats.lostEnvelopes)
    expect(s.stats.lostEnvelopes).toBeGreaterThan(0)
    expect(s.stats.lostAcks).toBeGreaterThan(0)
  })
})
