import { type Bus, healthContractOf, type NodeStatus, nodeStatus } from '@baran/bus'
import { connectCli, type NodeSelection } from './connect.ts'
import { Exit, formatDuration, paint, paintState, printJson } from './output.ts'

/** `baran status`: each actor's state, pid, uptime and restarts, from the supervisor over the bus. */
export async function statusCommand(opts: NodeSelection & { json?: boolean }): Promise<number> {
  const { bus } = await connectCli(opts)
  try {
    const s = await bus.request(nodeStatus, {}, { timeoutMs: 5000 })
    const reasons = await degradedReasons(bus, s)
    if (opts.json) {
      printJson({ ...s, actors: Object.fromEntries(Object.entries(s.actors).map(([name, a]) => [name, reasons[name] ? { ...a, reason: reasons[name] } : a])) })
      return Exit.Ok
    }
    process.stdout.write(`${paint('bold', `node ${s.node}`)}  ${paintState(s.state)}  pid ${s.pid}  up ${formatDuration(s.uptime)}\n`)
    process.stdout.write(`  bus  ${s.bus.url}${s.bus.embedded ? ' (embedded)' : ''}\n  data ${s.dataDir}\n`)
    const names = Object.keys(s.actors)
    if (names.length === 0) process.stdout.write('  (no actors configured)\n')
    for (const name of names) {
      const a = s.actors[name]
      if (!a) continue
      process.stdout.write(
        `  ${name.padEnd(10)} ${paintState(a.state).padEnd(10)} pid ${String(a.pid ?? '-').padEnd(8)} up ${formatDuration(a.uptime).padEnd(7)} restarts ${a.restarts}  ${paint('gray', a.implementation)}\n`,
      )
      if (reasons[name]) process.stdout.write(`  ${''.padEnd(10)} ${paint('yellow', `why: ${reasons[name]}`)}\n`)
    }
    const allReady = Object.values(s.actors).every((a) => a.state === 'ready')
    return allReady ? Exit.Ok : Exit.Unavailable
  } finally {
    await bus.close()
  }
}

/** Why each degraded actor is degraded, from its own health (its lifecycle's reason); bounded, best effort. */
async function degradedReasons(bus: Bus, s: NodeStatus): Promise<Record<string, string>> {
  const degraded = Object.entries(s.actors).filter(([, a]) => a.state === 'degraded')
  const found = await Promise.all(
    degraded.map(async ([name]) => {
      const h = await bus.request(healthContractOf(name), {}, { timeoutMs: 2000 }).catch(() => undefined)
      return [name, h?.state === 'degraded' ? h.reason : undefined] as const
    }),
  )
  return Object.fromEntries(found.filter((e): e is readonly [string, string] => typeof e[1] === 'string'))
}
