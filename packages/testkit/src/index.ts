/**
 * @baran/testkit — real components for tests: nats-server on a free loopback port, actors inline or as
 * processes, cleanup that runs even when a test fails, and the example `echo` actor.
 */
export { Cleanup } from './lib/cleanup.ts'
export { waitUntil, WaitTimeoutError } from './lib/wait.ts'
export { tempDir } from './lib/tmp.ts'
export { cpuMs } from './lib/proc-cpu.ts'
export { envelopeFloorCpuUs, envelopePrimitives } from './lib/envelope-floor.ts'
export type { RawSealed } from './lib/envelope-floor.ts'
export { installedVersion } from './lib/installed-version.ts'
export { setupNats } from './lib/nats.ts'
export type { NatsFixture } from './lib/nats.ts'
export { collectLines, finished, runInline, spawnCommand, spawnProcess, nodeCommand, isAlive } from './lib/actors.ts'
export type { SpawnedProcess } from './lib/actors.ts'
export { inlineNode } from './inline-node.ts'
export type { InlineNode } from './inline-node.ts'
export { echoActor } from './example/echo.ts'
export { echoSay, echoFail, echoSlow, echoDependency, echoSaid, echoContracts } from './example/contracts.ts'
