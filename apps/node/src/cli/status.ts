import { nodeStatus, transportInfo } from '@baran/bus'
import { connectCli, type NodeSelection } from './connect.ts'
import { Exit, formatDuration, paint, paintState, printJson } from './output.ts'

/** `baran status`: each actor's state, pid, uptime and restarts, from the supervisor over the bus. */
export async function statusCommand(opts: NodeSelection & { json?: boolean }): Promise<number> {
  const { bus } = await connectCli(opts)
  try {
    const s = await bus.request(nodeStatus, {}, { timeoutMs: 5000 })
    const connections = await connectionsOf(bus)
    if (opts.json) {
      printJson({ ...s, connections })
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
    }
    printConnections(connections)
    const allReady = Object.values(s.actors).every((a) => a.state === 'ready')
    return allReady ? Exit.Ok : Exit.Unavailable
  } finally {
    await bus.close()
  }
}

/** One open connection as `baran status` shows it: direct, relayed, or upgraded (direct after relayed). */
export interface StatusConnection {
  peerId: string
  kind: 'direct' | 'relayed' | 'upgraded'
  path: 'tcp' | 'ws' | 'webrtc' | 'circuit'
  remoteAddr: string
}

/** The transport's open connections, or why they are not known (no transport actor answering). */
async function connectionsOf(bus: Awaited<ReturnType<typeof connectCli>>['bus']): Promise<{ list: StatusConnection[]; iceServers: string[] } | { unavailable: string }> {
  try {
    const info = await bus.request(transportInfo, {}, { timeoutMs: 3000 })
    const list = info.connections.map((c) => ({
      peerId: c.peerId,
      kind: c.upgraded ? ('upgraded' as const) : c.kind,
      path: c.path ?? (c.remoteAddr.includes('/p2p-circuit') ? ('circuit' as const) : ('tcp' as const)),
      remoteAddr: c.remoteAddr,
    }))
    return { list, iceServers: info.iceServers ?? [] }
  } catch (e) {
    return { unavailable: `transport did not answer: ${(e as Error).message}` }
  }
}

function printConnections(c: Awaited<ReturnType<typeof connectionsOf>>): void {
  if ('unavailable' in c) {
    process.stdout.write(`  connections  ${paint('gray', c.unavailable)}\n`)
    return
  }
  const stun = c.iceServers.length > 0 ? c.iceServers.join(', ') : 'none (no relay configured: not reachable through NATs)'
  process.stdout.write(`  connections  ${c.list.length}  ${paint('gray', `ICE servers: ${stun}`)}\n`)
  for (const x of c.list) process.stdout.write(`    ${x.peerId}  ${x.kind.padEnd(8)} ${x.path.padEnd(7)} ${paint('gray', x.remoteAddr)}\n`)
}
