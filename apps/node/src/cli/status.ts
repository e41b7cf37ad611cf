import { nodeStatus } from '@baran/bus/client'
import { connectCli, type NodeSelection } from './connect.ts'
import { connectionsOf, printConnections } from './connections.ts'
import { Exit, formatDuration, paint, paintState, printJson } from './output.ts'

/**
 * `baran status`: each actor's state, pid, uptime and restarts, and why an actor is degraded or failed (the reason
 * its lifecycle published, which the supervisor keeps), from the supervisor over the bus in one request.
 */
export async function statusCommand(opts: NodeSelection & { json?: boolean }): Promise<number> {
  const { bus } = await connectCli(opts)
  try {
    // Both at once: the transport's answer does not wait for the supervisor's (one round trip less).
    const [s, connections] = await Promise.all([bus.request(nodeStatus, {}, { timeoutMs: 5000 }), connectionsOf(bus)])
    if (opts.json) {
      printJson({ ...s, connections })
      return Exit.Ok
    }
    const total = s.totalRssBytes ? `  memory ${mib(s.totalRssBytes)} in all` : ''
    process.stdout.write(`${paint('bold', `node ${s.node}`)}  ${paintState(s.state)}  pid ${s.pid}  up ${formatDuration(s.uptime)}${rss(s.rssBytes)}${total}\n`)
    process.stdout.write(`  bus  ${s.bus.url}${s.bus.embedded ? ' (embedded)' : ''}${rss(s.bus.rssBytes)}\n  data ${s.dataDir}\n`)
    const names = Object.keys(s.actors)
    if (names.length === 0) process.stdout.write('  (no actors configured)\n')
    for (const name of names) {
      const a = s.actors[name]
      if (!a) continue
      process.stdout.write(
        `  ${name.padEnd(10)} ${paintState(a.state).padEnd(10)} pid ${String(a.pid ?? '-').padEnd(8)} up ${formatDuration(a.uptime).padEnd(7)} restarts ${a.restarts}${rss(a.rssBytes)}${a.process ? `  thread of ${a.process}` : ''}  ${paint('gray', a.implementation)}\n`,
      )
      if (a.reason && a.state !== 'ready') process.stdout.write(`  ${''.padEnd(10)} ${paint('yellow', `why: ${a.reason}`)}\n`)
    }
    printConnections(connections)
    const allReady = Object.values(s.actors).every((a) => a.state === 'ready')
    return allReady ? Exit.Ok : Exit.Unavailable
  } finally {
    await bus.close()
  }
}


const mib = (bytes: number) => `${Math.round(bytes / 1048576)} MiB`
/** `  rss 95 MiB`, or nothing when the supervisor could not tell (no /proc, process gone). */
const rss = (bytes: number | null | undefined) => (bytes ? `  rss ${mib(bytes)}` : '')
