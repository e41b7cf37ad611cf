import { assign, fromPromise, setup } from 'xstate'

/**
 * The supervisor's own lifecycle: idle → preparing → startingBus → startingActors → running → stopping →
 * stopped, and failed. Its I/O steps are provided by the Supervisor class (`.provide()`).
 */
export type SupervisorState = 'idle' | 'preparing' | 'startingBus' | 'startingActors' | 'running' | 'stopping' | 'stopped' | 'failed'

const step = (name: string) =>
  fromPromise<void>(async () => {
    throw new Error(`supervisor step "${name}" was not provided`)
  })
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

export const supervisorMachine = setup({
  types: {
    context: {} as { reason: string | undefined; error: unknown },
    events: {} as { type: 'START' } | { type: 'STOP'; reason?: string },
  },
  actors: { prepare: step('prepare'), startBus: step('startBus'), startActors: step('startActors'), stop: step('stop') },
}).createMachine({
  id: 'supervisor',
  initial: 'idle',
  context: { reason: undefined, error: undefined },
  states: {
    idle: { on: { START: 'preparing' } },
    preparing: {
      invoke: { src: 'prepare', onDone: 'startingBus', onError: { target: 'failed', actions: assign({ reason: ({ event }) => errorText(event.error), error: ({ event }) => event.error }) } },
    },
    startingBus: {
      invoke: { src: 'startBus', onDone: 'startingActors', onError: { target: 'stopping', actions: assign({ reason: ({ event }) => errorText(event.error), error: ({ event }) => event.error }) } },
      on: { STOP: { target: 'stopping', actions: assign({ reason: ({ event }) => event.reason }) } },
    },
    startingActors: {
      invoke: { src: 'startActors', onDone: 'running', onError: { target: 'stopping', actions: assign({ reason: ({ event }) => errorText(event.error), error: ({ event }) => event.error }) } },
      on: { STOP: { target: 'stopping', actions: assign({ reason: ({ event }) => event.reason }) } },
    },
    running: { on: { STOP: { target: 'stopping', actions: assign({ reason: ({ event }) => event.reason }) } } },
    stopping: {
      invoke: { src: 'stop', onDone: [{ target: 'failed', guard: ({ context }) => context.error !== undefined }, { target: 'stopped' }], onError: 'failed' },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
})
