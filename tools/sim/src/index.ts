/**
 * @baran/sim — many Baran nodes in one process, for simulations.
 *
 * `runScenario({ nodes, churn, messages, durationMs, latencyMs?, lossRate?, seed })` starts one nats-server and,
 * for each node, the real identity, transport, discovery and outbox actors inline (`baran.<node>.<actor>…`
 * subjects keep nodes apart). A `churn` fraction of nodes goes offline (actors stopped, bus connection closed)
 * and comes back; random online senders send to random recipients; latency and loss are injected at each
 * transport actor's `send`. The report gives the delivery ratio, latency percentiles, DHT lookup latency and
 * memory per node; `formatReport` prints it as a table.
 *
 * @example
 * const report = await runScenario({ nodes: 10, churn: 0.2, messages: 50, durationMs: 15_000, seed: 7 })
 * process.stdout.write(formatReport(report))
 */
export { runScenario } from './lib/scenario.ts'
export { parseScenario, ScenarioSchema } from './lib/scenario-schema.ts'
export type { Scenario, ScenarioInit, ScenarioHooks, ScenarioReport } from './lib/scenario-schema.ts'
export { formatReport } from './lib/report.ts'
export { conditionsOf } from './lib/offline-plan.ts'
export { ProcessSimNode } from './lib/process-node.ts'
export { SimNode } from './lib/node.ts'
export type { SimNodeInit } from './lib/node.ts'
export { LinkShaper } from './lib/shaper.ts'
export type { LinkConditions, ShaperStats } from './lib/shaper.ts'
export { createRng } from './lib/rng.ts'
export type { Rng } from './lib/rng.ts'
export { percentiles } from './lib/stats.ts'
export type { Percentiles } from './lib/stats.ts'
export { InvalidScenarioError, NodeStartError } from './lib/errors.ts'
export { ANCHOR_NODES, DEFAULT_DRAIN_MS, DEFAULT_LOOKUPS, descriptorsFor, filesFor, MAX_PROCESS_NODES, SIM_BACKOFF, SIM_KDF } from './lib/constants.ts'
export { fileLimit, raiseFileLimit } from './lib/limits.ts'
