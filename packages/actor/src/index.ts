/**
 * @baran/actor — the runtime every Baran actor uses.
 *
 * `defineActor({ name, version, config, start })` describes an actor; `ActorRuntime` runs it inline (tests,
 * simulations) and `runActor` runs it as a process. Either way its lifecycle is one XState machine
 * (idle → connecting → starting → ready ⇄ degraded → stopping → stopped, failed), each transition is published
 * on `baran.<node>.<actor>.evt.state`, and `baran.<node>.<actor>.health` answers from the machine's snapshot.
 */
export { defineActor } from './lib/define.ts'
export type { ActorContext, ActorDefinition, RunningActor, ServeOptions, BusAccess } from './lib/define.ts'
export { ActorRuntime, ActorConfigError } from './lib/runtime.ts'
export type { RuntimeOptions } from './lib/runtime.ts'
export { runActor, ActorEnvSchema, ExitCode } from './lib/process.ts'
export type { ActorEnv } from './lib/process.ts'
export { lifecycleMachine } from './lib/machine.ts'
export type { LifecycleContext, LifecycleEvent } from './lib/machine.ts'
export { createLogger, silentLogger } from './lib/logger.ts'
export { loadOrCreateSecret } from './lib/secret-file.ts'
export type { Logger } from './lib/logger.ts'
export { readAddressList, stableListen } from './lib/stable-ports.ts'
export { ALL_INTERFACES, addressScope, announceable, ipv6Available, listenableAddrs, listensBeyondLoopback } from './lib/addresses.ts'
export type { AddressScope } from './lib/addresses.ts'
export type { StableListen } from './lib/stable-ports.ts'
export { Backoff, InvalidBackoffError, pause, retry, RetryStoppedError, periodic, dependency } from './lib/recurring.ts'
export type { BackoffOptions, RetryOptions, Periodic, DependencyContext, DependencyOptions, Dependency } from './lib/recurring.ts'
