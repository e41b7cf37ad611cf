import { describe, expect, it } from 'vitest'
import { createActor, fromPromise, waitFor } from 'xstate'
import { lifecycleMachine } from '../src/index.ts'

function run(overrides: { connect?: () => Promise<void>; start?: () => Promise<void>; stop?: () => Promise<void> } = {}) {
  const seen: string[] = []
  const machine = lifecycleMachine.provide({
    actors: {
      connect: fromPromise(overrides.connect ?? (async () => {})),
      start: fromPromise(overrides.start ?? (async () => {})),
      stop: fromPromise(overrides.stop ?? (async () => {})),
    },
  })
  const actor = createActor(machine, {
    inspect: (ev) => {
      if (ev.type === '@xstate.snapshot' && ev.actorRef === actor) {
        const v = (ev.snapshot as unknown as { value: string }).value
        if (seen.at(-1) !== v) seen.push(v)
      }
    },
  })
  actor.start()
  return { actor, seen }
}

describe('lifecycle machine', () => {
  it('walks idle → connecting → starting → ready → stopping → stopped', async () => {
    const { actor, seen } = run()
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 1000 })
    actor.send({ type: 'STOP' })
    await waitFor(actor, (s) => s.matches('stopped'), { timeout: 1000 })
    expect(seen).toEqual(['idle', 'connecting', 'starting', 'ready', 'stopping', 'stopped'])
    expect(actor.getSnapshot().status).toBe('done')
  })

  it('is degraded until every reason has cleared', async () => {
    const { actor } = run()
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 1000 })
    actor.send({ type: 'DEGRADE', reason: 'bus' })
    actor.send({ type: 'DEGRADE', reason: 'chain' })
    expect(actor.getSnapshot().value).toBe('degraded')
    actor.send({ type: 'RECOVER', reason: 'bus' })
    expect(actor.getSnapshot().value).toBe('degraded')
    expect(actor.getSnapshot().context.degradedBy).toEqual(['chain'])
    actor.send({ type: 'RECOVER', reason: 'chain' })
    expect(actor.getSnapshot().value).toBe('ready')
  })

  it('shows a reason that still holds once another one clears', async () => {
    const { actor } = run()
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 1000 })
    actor.send({ type: 'DEGRADE', reason: 'JetStream unavailable: disk full' })
    actor.send({ type: 'DEGRADE', reason: 'bus' })
    expect(actor.getSnapshot().context.reason).toBe('bus')
    actor.send({ type: 'RECOVER', reason: 'bus' })
    expect(actor.getSnapshot().value).toBe('degraded')
    expect(actor.getSnapshot().context.reason).toBe('JetStream unavailable: disk full')
  })

  it('starts degraded when a dependency went down while starting', async () => {
    let release!: () => void
    const { actor } = run({ start: () => new Promise<void>((r) => (release = r)) })
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('starting'), { timeout: 1000 })
    actor.send({ type: 'DEGRADE', reason: 'bus' })
    release()
    await waitFor(actor, (s) => s.matches('degraded'), { timeout: 1000 })
  })

  it('fails when start throws, with the reason', async () => {
    const { actor } = run({
      start: async () => {
        throw new Error('no key store')
      },
    })
    actor.send({ type: 'START' })
    const snap = await waitFor(actor, (s) => s.matches('failed'), { timeout: 1000 })
    expect(snap.context.reason).toBe('no key store')
  })

  it('fails from any state on FAIL, and can still be stopped', async () => {
    const { actor } = run()
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 1000 })
    actor.send({ type: 'FAIL', reason: 'disk full' })
    expect(actor.getSnapshot().value).toBe('failed')
    actor.send({ type: 'STOP' })
    await waitFor(actor, (s) => s.matches('stopped'), { timeout: 1000 })
  })

  it('ends in stopped even when the stop step throws', async () => {
    const { actor } = run({
      stop: async () => {
        throw new Error('stuck')
      },
    })
    actor.send({ type: 'START' })
    await waitFor(actor, (s) => s.matches('ready'), { timeout: 1000 })
    actor.send({ type: 'STOP' })
    const snap = await waitFor(actor, (s) => s.matches('stopped'), { timeout: 1000 })
    expect(snap.context.reason).toContain('stuck')
  })

  it('can be stopped while still connecting', async () => {
    const { actor } = run({ connect: () => new Promise<void>(() => {}) })
    actor.send({ type: 'START' })
    actor.send({ type: 'STOP' })
    await waitFor(actor, (s) => s.matches('stopped'), { timeout: 1000 })
  })
})
