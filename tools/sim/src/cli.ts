/**
 * `npm run sim -- --nodes 100 --churn 0.2 [--messages 500] [--duration 60000] [--latency 20] [--loss 0.05]
 * [--seed 1] [--drain 60000] [--lookups 30] [--threads T] [--kill graceful|sigkill] [--stay-offline 0.1]
 * [--backoff sim|production] [--json report.json]`: runs a scenario, prints the table
 * (and writes the JSON report when asked).
 */
import { writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { InvalidScenarioError } from './lib/errors.ts'
import { formatReport } from './lib/report.ts'
import { runScenario } from './lib/scenario.ts'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    churn: { type: 'string', default: '0.2' },
    messages: { type: 'string' },
    duration: { type: 'string', default: '30000' },
    latency: { type: 'string', default: '0' },
    loss: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    drain: { type: 'string' },
    lookups: { type: 'string' },
    threads: { type: 'string' },
    kill: { type: 'string', default: 'graceful' },
    'stay-offline': { type: 'string', default: '0' },
    backoff: { type: 'string', default: 'sim' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  process.stdout.write('usage: npm run sim -- --nodes N --churn F [--messages M] [--duration MS] [--latency MS] [--loss P] [--seed S] [--drain MS] [--lookups L] [--threads T (default: one per core)] [--kill graceful|sigkill] [--stay-offline F] [--backoff sim|production] [--json FILE]\n')
  process.exit(0)
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v))
const nodes = num(values.nodes) ?? 20
try {
  const report = await runScenario(
    {
      nodes,
      churn: num(values.churn) ?? 0.2,
      messages: num(values.messages) ?? nodes * 5,
      durationMs: num(values.duration) ?? 30_000,
      latencyMs: num(values.latency) ?? 0,
      lossRate: num(values.loss) ?? 0,
      seed: num(values.seed) ?? 1,
      ...(values.drain ? { drainMs: Number(values.drain) } : {}),
      ...(values.lookups ? { lookups: Number(values.lookups) } : {}),
      // One event loop per core: the nodes are spread over worker threads (0 keeps them all in this one).
      threads: num(values.threads) ?? availableParallelism(),
      // Checked by the scenario's schema: an unknown word is refused there with the option's name.
      kill: values.kill as 'graceful' | 'sigkill',
      stayOffline: num(values['stay-offline']) ?? 0,
      backoff: values.backoff as 'sim' | 'production',
    },
    { onProgress: (line) => process.stderr.write(`[sim] ${line}\n`) },
  )
  process.stdout.write(formatReport(report))
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`)
  process.exitCode = report.completed ? 0 : 1
} catch (e) {
  process.stderr.write(`sim: ${(e as Error).message}\n`)
  process.exitCode = e instanceof InvalidScenarioError ? 2 : 1
}
// runScenario has stopped every node and the server; a libp2p timer left behind must not keep the CLI alive.
process.exit()
