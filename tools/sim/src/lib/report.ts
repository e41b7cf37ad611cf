import type { ScenarioReport } from './scenario-schema.ts'
import type { Percentiles } from './stats.ts'

const mib = (b: number | null) => (b === null ? '-' : `${(b / 1048576).toFixed(1)} MiB`)
const ms = (x: number | null) => (x === null ? '-' : String(x))
const row = (label: string, p: Percentiles) =>
  `  ${label.padEnd(28)} ${String(p.count).padStart(6)} ${ms(p.p50).padStart(9)} ${ms(p.p90).padStart(9)} ${ms(p.p99).padStart(9)} ${ms(p.max).padStart(9)}`

/** The report as a human-readable table (the JSON is the report object itself). */
export function formatReport(r: ScenarioReport): string {
  const s = r.scenario
  const d = r.delivery
  const t = r.timingsMs
  const lines = [
    `conditions: ${r.conditions}`,
    `baran sim: ${s.nodes} nodes, churn ${s.churn} (${r.churn.nodes} nodes, ${r.churn.restarts} restarts), ${s.messages} messages over ${s.durationMs} ms, latency ${s.latencyMs} ms, loss ${s.lossRate}, seed ${s.seed}`,
    '',
    `delivery    ${(d.ratio * 100).toFixed(2)} %  (${d.delivered}/${d.accepted} accepted; ${d.toOffline} sent to offline nodes; ${d.sendFailed} sends refused)  ${r.completed ? 'COMPLETE' : 'INCOMPLETE'}`,
    ...(r.churn.stayedOffline > 0
      ? [`            to or from the ${r.churn.stayedOffline} nodes offline past the run (not counted above): ${d.toOrFromStayedOffline.delivered}/${d.toOrFromStayedOffline.accepted} delivered`]
      : []),
    '',
    `  ${'latency (ms)'.padEnd(28)} ${'n'.padStart(6)} ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`,
    row('send -> inbox, all', r.latencyMs.all),
    row('  recipient online', r.latencyMs.toOnline),
    row('  recipient offline', r.latencyMs.toOffline),
    row('presence publish -> inbox', r.latencyMs.fromPresence),
    row(`DHT lookup (${r.lookups.failed} failed)`, r.lookups.latencyMs),
    `  DHT hops: not exposed by the discovery library (lookup latency above instead)`,
    '',
    `DHT rpcs    ${Object.entries(r.dhtRpcs.sent)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none'} sent during run and drain (${r.dhtRpcs.perMessage ?? '-'} per message${r.dhtRpcs.uncountedNodes > 0 ? `; the ${r.dhtRpcs.uncountedNodes} nodes in a process of their own not counted` : ''}${r.dhtRpcs.unreadHealths > 0 ? `; ${r.dhtRpcs.unreadHealths} discovery healths unread: short` : ''})`,
    `network     ${r.network.sends} shaped sends, ${r.network.lostEnvelopes} envelopes lost, ${r.network.lostAcks} acks lost`,
    `memory      ${mib(r.memory.rssPerNodeBytes)} RSS/node, ${mib(r.memory.heapPerNodeBytes)} heap/node (process RSS ${mib(r.memory.rssBeforeBytes)} -> ${mib(r.memory.rssAfterSetupBytes)}, peak ${mib(r.memory.rssPeakBytes)}; nats-server ${mib(r.memory.natsServerRssBytes)}${r.memory.gcExposed ? '' : '; run with --expose-gc for steadier heap figures'})`,
    `libp2p      errors thrown from its internals (survived): ${Object.entries(r.survivedErrors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `event loop  delay p50 ${r.eventLoopDelayMs.p50} ms, p99 ${r.eventLoopDelayMs.p99} ms, max ${r.eventLoopDelayMs.max} ms (${r.threads > 0 ? `busiest of ${r.threads} worker threads` : 'one thread runs every node'})`,
    `time (ms)   setup ${t.setup} (node start p50 ${ms(t.nodeStart.p50)}, max ${ms(t.nodeStart.max)}), lookups ${t.lookups}, run ${t.run}, drain ${t.drain}, teardown ${t.teardown}, total ${t.total}`,
    `            restart p50 ${ms(t.nodeRestart.p50)}, stop p50 ${ms(t.nodeStop.p50)}; actor start p50/max: ${Object.entries(t.actorStart)
      .map(([a, p]) => `${a} ${ms(p.p50)}/${ms(p.max)}`)
      .join(', ')}`,
  ]
  if (d.undelivered.length > 0) lines.push('', 'undelivered (first 20):', ...d.undelivered.map((u) => `  ${u}`))
  for (const [m, way] of Object.entries(d.trails)) lines.push('', `the way of ${m}:`, ...way.map((w) => `  ${w}`))
  return `${lines.join('\n')}\n`
}
