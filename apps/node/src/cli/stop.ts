import { nodeStop } from '@baran/bus/client'
import { setTimeout as sleep } from 'node:timers/promises'
import { pidAlive } from '../lib/node-info.ts'
import { connectCli, requireRunning, type NodeSelection } from './connect.ts'
import { Exit } from './output.ts'

/** `baran stop`: asks the supervisor to stop (actors in reverse order, then the bus) and waits until it is gone. */
export async function stopCommand(opts: NodeSelection & { timeout?: number }): Promise<number> {
  const { info } = await requireRunning(opts)
  try {
    const { bus } = await connectCli(opts)
    try {
      await bus.request(nodeStop, { reason: 'baran stop' }, { timeoutMs: 5000 })
    } finally {
      await bus.close()
    }
  } catch {
    // The bus is gone or refuses us: fall back to the supervisor's pid.
    process.kill(info.pid, 'SIGTERM')
  }
  const deadline = Date.now() + (opts.timeout ?? 30_000)
  while (pidAlive(info.pid)) {
    if (Date.now() > deadline) {
      process.stderr.write(`node ${info.node} (pid ${info.pid}) did not stop within ${opts.timeout ?? 30_000} ms\n`)
      return Exit.Error
    }
    await sleep(50)
  }
  process.stdout.write(`node ${info.node} stopped\n`)
  return Exit.Ok
}
