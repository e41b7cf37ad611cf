import { BusError, BusErrorCode, outboxReceive } from '@baran/bus'
import { Cleanup, setupNats } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { untilServed } from '../src/lib/until-served.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** The signal of a transport that keeps running. */
const running = () => new AbortController().signal
const envelope = { id: 'm1', payload: 'AAAA', from: { accountId: 'a'.repeat(40), deviceId: 'd'.repeat(40), peerId: 'p' } }

describe('untilServed (real nats-server): an envelope waits for an outbox that is starting', () => {
  it('answers once the outbox serves, though nobody did when the envelope came', async () => {
    const { bus } = await setupNats({ cleanup, jetstream: false })
    let tries = 0
    const ask = () => {
      tries++
      return bus.request(outboxReceive, envelope, { timeoutMs: 2000 })
    }
    // The outbox comes up 400 ms later: first it is not there at all, then it says it is not ready.
    let ready = false
    setTimeout(async () => {
      const svc = await bus.service({ name: 'outbox', version: '1.0.0' })
      svc.serve(outboxReceive, () => {
        if (!ready) throw new BusError(BusErrorCode.Unavailable, 'outbox is waiting for JetStream')
        return { status: 'stored' as const }
      })
      setTimeout(() => (ready = true), 300)
    }, 400)
    await expect(untilServed(ask, { waitMs: 5000, everyMs: 50, signal: running() })).resolves.toEqual({ status: 'stored' })
    expect(tries).toBeGreaterThan(5)
  })

  it('gives up after waitMs with the last error, and at once on any other error', async () => {
    const { bus } = await setupNats({ cleanup, jetstream: false })
    const t0 = performance.now()
    const nobody = await untilServed(() => bus.request(outboxReceive, envelope, { timeoutMs: 2000 }), { waitMs: 500, everyMs: 100, signal: running() }).catch((e: unknown) => e)
    expect(nobody).toMatchObject({ code: BusErrorCode.NoResponder })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400)
    let tries = 0
    const svc = await bus.service({ name: 'outbox', version: '1.0.0' })
    svc.serve(outboxReceive, () => {
      tries++
      throw new BusError(BusErrorCode.InvalidRequest, 'not an envelope')
    })
    const refused = await untilServed(() => bus.request(outboxReceive, envelope, { timeoutMs: 2000 }), { waitMs: 5000, everyMs: 50, signal: running() }).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: BusErrorCode.InvalidRequest })
    expect(tries).toBe(1)
  })

  it('stops waiting when its signal aborts (the transport stops)', async () => {
    const { bus } = await setupNats({ cleanup, jetstream: false })
    const stop = new AbortController()
    setTimeout(() => stop.abort(new Error('transport stopping')), 200)
    const t0 = performance.now()
    const err = await untilServed(() => bus.request(outboxReceive, envelope, { timeoutMs: 2000 }), { waitMs: 10_000, everyMs: 50, signal: stop.signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(performance.now() - t0).toBeLessThan(5000)
  })
})
