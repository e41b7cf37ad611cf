/**
 * A send made while identity restarts (after a crash, or a kill -9 of its process) waits for it instead of failing
 * with no_responder: the helper's rules, then the real outbox and identity actors on a real nats-server.
 */
import { BusError, identityCreate, outboxSend } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { actor as outboxActorDef } from '../src/index.ts'
import { whileIdentityRestarts } from '../src/lib/identity-wait.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }

const noResponder = () => new BusError('no_responder', 'nobody serves identity.seal: is the actor running?')

describe('whileIdentityRestarts', () => {
  it('tries no_responder again until the call answers', async () => {
    let calls = 0
    const r = await whileIdentityRestarts(async () => {
      if (++calls < 3) throw noResponder()
      return 'sealed'
    })
    expect(r).toBe('sealed')
    expect(calls).toBe(3)
  })

  it('tries an identity that answers it is still starting again, but not one that is degraded or stopping', async () => {
    const answer = (state: string) => new BusError('unavailable', `identity is ${state}`, { details: { state } })
    let calls = 0
    const r = await whileIdentityRestarts(async () => {
      if (++calls < 3) throw answer('starting')
      return 'sealed'
    })
    expect(r).toBe('sealed')
    expect(calls).toBe(3)
    for (const state of ['degraded', 'stopping']) {
      calls = 0
      await expect(
        whileIdentityRestarts(async () => {
          calls++
          throw answer(state)
        }),
      ).rejects.toMatchObject({ code: 'unavailable', details: { state } })
      expect(calls).toBe(1)
    }
  })

  it('gives any other error back at once, and no_responder once the wait is over', async () => {
    let calls = 0
    const refused = whileIdentityRestarts(async () => {
      calls++
      throw new BusError('too_large', 'no')
    })
    await expect(refused).rejects.toMatchObject({ code: 'too_large' })
    expect(calls).toBe(1)
    calls = 0
    const t0 = Date.now()
    await expect(
      whileIdentityRestarts(async () => {
        calls++
        throw noResponder()
      }, { waitMs: 300 }),
    ).rejects.toMatchObject({ code: 'no_responder' })
    expect(calls).toBeGreaterThan(1)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150)
  })

  it('stops waiting when its signal aborts', async () => {
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(new Error('stopping')), 100)
    await expect(
      whileIdentityRestarts(async () => {
        throw noResponder()
      }, { waitMs: 60_000, signal: ctl.signal }),
    ).rejects.toThrow(/stopping|no_responder|abort/)
  })
})

describe('outbox while identity restarts', () => {
  it('a send made while identity is down succeeds once identity is back', async () => {
    const nats = await setupNats({ cleanup, node: 'a', jetstream: true })
    const dataDir = await tempDir(cleanup)
    const identity = () => runInline(identityActor, { cleanup, node: 'a', url: nats.url, dataDir, config: { kdf, deviceName: 'a-phone' } })
    const first = await identity()
    await nats.bus.request(identityCreate, {})
    await runInline(outboxActorDef, { cleanup, node: 'a', url: nats.url, dataDir, config: { backoff: { initialMs: 200, maxMs: 2000 } } })
    await first.stop('test: identity crashed')
    await first.close()
    const sending = nats.bus.request(outboxSend, { to: 'c1'.repeat(20), body: 'sent while identity restarts' }, { timeoutMs: 10_000 })
    setTimeout(() => void identity(), 700)
    await expect(sending).resolves.toMatchObject({ to: 'c1'.repeat(20) })
  })
})
