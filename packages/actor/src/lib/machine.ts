import { assign, fromPromise, setup } from 'xstate'

/**
 * The lifecycle every actor shares:
 * idle → connecting → starting → ready ⇄ degraded → stopping → stopped, and failed from any state.
 *
 * The machine only names its I/O (`connect`, `start`, `stop`); the runtime provides them with `.provide()`,
 * and tests swap them the same way. `degradedBy` holds the reasons the actor is degraded (the bus, a chain…):
 * it is ready again only when every reason has cleared.
 */
export interface LifecycleContext {
  degradedBy: string[]
  reason: string | undefined
  since: number
}

export type LifecycleEvent =
  | { type: 'START' }
  | { type: 'STOP'; reason?: string }
  | { type: 'DEGRADE'; reason: string }
  | { type: 'RECOVER'; reason: string }
  | { type: 'FAIL'; reason: string }

function notProvided(name: string) {
  return fromPromise<void>(async () => {
    throw new Error(`lifecycle actor "${name}" was not provided`)
  })
}

const addReason = (list: string[], r: string) => (list.includes(r) ? list : [...list, r])
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

export const lifecycleMachine = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
  },
  actors: {
    connect: notProvided('connect'),
    start: notProvided('start'),
    stop: notProvided('stop'),
  },
  guards: {
    isDegraded: ({ context }) => context.degradedBy.length > 0,
    clearsLastReason: ({ context, event }) =>
      event.type === 'RECOVER' && context.degradedBy.length === 1 && context.degradedBy[0] === event.reason,
  },
  actions: {
    stamp: assign({ since: () => Date.now() }),
    degrade: assign({
      degradedBy: ({ context, event }) => (event.type === 'DEGRADE' ? addReason(context.degradedBy, event.reason) : context.degradedBy),
      reason: ({ context, event }) => (event.type === 'DEGRADE' ? event.reason : context.reason),
    }),
    recover: assign({
      degradedBy: ({ context, event }) => (event.type === 'RECOVER' ? context.degradedBy.filter((r) => r !== event.reason) : context.degradedBy),
      // The reason shown is one that still holds (the bus came back, JetStream still fails: say JetStream).
      reason: ({ context, event }) => {
        if (event.type !== 'RECOVER' || event.reason !== context.reason) return context.reason
        return context.degradedBy.filter((r) => r !== event.reason).at(-1) ?? context.reason
      },
    }),
    noteStop: assign({ reason: ({ event }) => (event.type === 'STOP' ? (event.reason ?? 'stop requested') : undefined) }),
    noteFail: assign({ reason: ({ event }) => (event.type === 'FAIL' ? event.reason : undefined) }),
  },
}).createMachine({
  id: 'lifecycle',
  initial: 'idle',
  context: { degradedBy: [], reason: undefined, since: 0 },
  entry: 'stamp',
  on: {
    FAIL: { target: '.failed', actions: 'noteFail' },
  },
  states: {
    idle: {
      on: { START: 'connecting', STOP: { target: 'stopped', actions: 'noteStop' } },
    },
    connecting: {
      entry: 'stamp',
      invoke: {
        src: 'connect',
        onDone: 'starting',
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `bus: ${errorText(event.error)}` }) },
      },
      on: { STOP: { target: 'stopped', actions: 'noteStop' } },
    },
    starting: {
      entry: 'stamp',
      invoke: {
        src: 'start',
        onDone: [{ target: 'degraded', guard: 'isDegraded' }, { target: 'ready' }],
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => errorText(event.error) }) },
      },
      on: {
        DEGRADE: { actions: 'degrade' },
        RECOVER: { actions: 'recover' },
        STOP: { target: 'stopping', actions: 'noteStop' },
      },
    },
    ready: {
      entry: ['stamp', assign({ reason: undefined })],
      on: {
        DEGRADE: { target: 'degraded', actions: 'degrade' },
        STOP: { target: 'stopping', actions: 'noteStop' },
      },
    },
    degraded: {
      entry: 'stamp',
      on: {
        DEGRADE: { actions: 'degrade' },
        RECOVER: [
          { target: 'ready', guard: 'clearsLastReason', actions: 'recover' },
          { actions: 'recover' },
        ],
        STOP: { target: 'stopping', actions: 'noteStop' },
      },
    },
    stopping: {
      entry: 'stamp',
      invoke: {
        src: 'stop',
        onDone: 'stopped',
        onError: { target: 'stopped', actions: assign({ reason: ({ event }) => `unclean stop: ${errorText(event.error)}` }) },
      },
      // A failure while stopping still ends in stopped: there is nothing left to run.
      on: { FAIL: { target: 'stopped', actions: 'noteFail' } },
    },
    stopped: { entry: 'stamp', type: 'final' },
    failed: {
      entry: 'stamp',
      on: { STOP: { target: 'stopping', actions: 'noteStop' } },
    },
  },
})
