import { assign, setup, transition } from 'xstate'

/**
 * The delivery of one message to one device, as an XState v5 machine:
 *
 *   queued --ATTEMPT--> sending --ACKED--> delivered
 *     ^                   |  \--REFUSED--> rejected
 *     +------FAILED-------+ (attempts + 1)
 *   queued | sending --EXPIRE--> expired,  --REVOKED--> rejected
 *
 * No actor is ever spawned per message (100k pending would not fit): the engine computes each transition with
 * `nextDelivery`, a pure step of this machine, and stores only the state value and the attempt count. The
 * definition doubles as documentation, and a UI can draw it.
 */
export interface DeliveryContext {
  /** Failed attempts so far. */
  attempts: number
}

export type DeliveryEvent =
  | { type: 'ATTEMPT' }
  | { type: 'ACKED' }
  | { type: 'FAILED'; error?: string }
  | { type: 'REFUSED'; error?: string }
  | { type: 'EXPIRE' }
  | { type: 'REVOKED' }

export const DELIVERY_EVENTS = ['ATTEMPT', 'ACKED', 'FAILED', 'REFUSED', 'EXPIRE', 'REVOKED'] as const

export const deliveryMachine = setup({
  types: {
    context: {} as DeliveryContext,
    events: {} as DeliveryEvent,
  },
}).createMachine({
  id: 'delivery',
  initial: 'queued',
  context: { attempts: 0 },
  states: {
    queued: {
      description: 'waiting for its next attempt: now, a presence event, or the back-off timer',
      on: { ATTEMPT: 'sending', EXPIRE: 'expired', REVOKED: 'rejected' },
    },
    sending: {
      description: 'handed to transport; only in memory (after a crash it is simply queued again)',
      on: {
        ACKED: 'delivered',
        FAILED: { target: 'queued', actions: assign({ attempts: ({ context }) => context.attempts + 1 }) },
        REFUSED: 'rejected',
        EXPIRE: 'expired',
        REVOKED: 'rejected',
      },
    },
    delivered: { type: 'final', description: "the device's node acked: the message is in its inbox" },
    expired: { type: 'final', description: 'the TTL passed before any ack' },
    rejected: { type: 'final', description: 'the device refused it, or the device was revoked' },
  },
})

export type DeliveryStateValue = 'queued' | 'sending' | 'delivered' | 'expired' | 'rejected'
export const FINAL_DELIVERY_STATES: readonly DeliveryStateValue[] = ['delivered', 'expired', 'rejected']

export interface DeliveryStep {
  state: DeliveryStateValue
  attempts: number
  /** False when the machine ignored the event (e.g. ACKED after expired). */
  changed: boolean
}

/**
 * What the machine does with an event in a state: the state it goes to and what it adds to `attempts`. The
 * machine's only context change is that count, so this does not depend on its value: each (state, event) pair is
 * asked of XState once and remembered (resolving a snapshot per step was a large share of the outbox's CPU).
 */
const steps = new Map<string, { state: DeliveryStateValue; added: number }>()

/** One pure step of the machine, from a stored state value and attempt count. */
export function nextDelivery(current: { state: DeliveryStateValue; attempts: number }, event: DeliveryEvent): DeliveryStep {
  const key = `${current.state}|${event.type}`
  let step = steps.get(key)
  if (!step) {
    const snapshot = deliveryMachine.resolveState({ value: current.state, context: { attempts: 0 } })
    const [next] = transition(deliveryMachine, snapshot, event)
    step = { state: next.value as DeliveryStateValue, added: next.context.attempts }
    steps.set(key, step)
  }
  const attempts = current.attempts + step.added
  return { state: step.state, attempts, changed: step.state !== current.state || step.added !== 0 }
}

export function isFinalDelivery(state: string): boolean {
  return state === 'delivered' || state === 'expired' || state === 'rejected'
}
