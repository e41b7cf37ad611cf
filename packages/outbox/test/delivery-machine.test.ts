import { createActor } from 'xstate'
import { describe, expect, it } from 'vitest'
import { DELIVERY_EVENTS, type DeliveryEvent, type DeliveryStateValue, deliveryMachine, isFinalDelivery, nextDelivery } from '../src/lib/delivery-machine.ts'

const STATES: DeliveryStateValue[] = ['queued', 'sending', 'delivered', 'expired', 'rejected']

/** The whole transition table: every event from every state. */
const TABLE: Record<DeliveryStateValue, Record<(typeof DELIVERY_EVENTS)[number], DeliveryStateValue>> = {
  queued: { ATTEMPT: 'sending', ACKED: 'queued', FAILED: 'queued', REFUSED: 'queued', EXPIRE: 'expired', REVOKED: 'rejected' },
  sending: { ATTEMPT: 'sending', ACKED: 'delivered', FAILED: 'queued', REFUSED: 'rejected', EXPIRE: 'expired', REVOKED: 'rejected' },
  delivered: { ATTEMPT: 'delivered', ACKED: 'delivered', FAILED: 'delivered', REFUSED: 'delivered', EXPIRE: 'delivered', REVOKED: 'delivered' },
  expired: { ATTEMPT: 'expired', ACKED: 'expired', FAILED: 'expired', REFUSED: 'expired', EXPIRE: 'expired', REVOKED: 'expired' },
  rejected: { ATTEMPT: 'rejected', ACKED: 'rejected', FAILED: 'rejected', REFUSED: 'rejected', EXPIRE: 'rejected', REVOKED: 'rejected' },
}

describe('delivery machine', () => {
  for (const state of STATES) {
    for (const type of DELIVERY_EVENTS) {
      it(`${state} --${type}--> ${TABLE[state][type]}`, () => {
        const step = nextDelivery({ state, attempts: 3 }, { type } as DeliveryEvent)
        expect(step.state).toBe(TABLE[state][type])
        // Only a failed attempt counts.
        expect(step.attempts).toBe(state === 'sending' && type === 'FAILED' ? 4 : 3)
        expect(step.changed).toBe(step.state !== state || step.attempts !== 3)
      })
    }
  }

  it('has exactly three final states', () => {
    expect(STATES.filter(isFinalDelivery)).toEqual(['delivered', 'expired', 'rejected'])
    for (const s of ['delivered', 'expired', 'rejected'] as const) expect(deliveryMachine.states[s]?.type).toBe('final')
  })

  it('runs as a live actor too (the same definition a UI would inspect)', () => {
    const seen: string[] = []
    const actor = createActor(deliveryMachine, { inspect: (e) => void (e.type === '@xstate.snapshot' && seen.push(String((e.snapshot as { value?: unknown }).value))) }).start()
    actor.send({ type: 'ATTEMPT' })
    actor.send({ type: 'FAILED', error: 'unreachable' })
    actor.send({ type: 'ATTEMPT' })
    actor.send({ type: 'ACKED' })
    expect(actor.getSnapshot().value).toBe('delivered')
    expect(actor.getSnapshot().context.attempts).toBe(1)
    expect(actor.getSnapshot().status).toBe('done')
    expect(seen).toEqual(['queued', 'sending', 'queued', 'sending', 'delivered'])
    actor.stop()
  })
})
