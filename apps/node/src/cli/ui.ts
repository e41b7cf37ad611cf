import { startGateway, type Gateway } from '@baran/ui'
import { Exit, paint } from './output.ts'
import { requireRunning, type NodeSelection } from './connect.ts'

export interface UiOptions extends NodeSelection {
  uiPort?: number
}

/** Starts the web UI gateway for a node's data dir and prints its URL (with the per-start token). */
export async function openUi(dataDir: string, port: number | undefined): Promise<Gateway> {
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) throw new Error(`--ui-port must be a TCP port, not ${port}`)
  const gw = await startGateway({ dataDir, ...(port !== undefined ? { port } : {}) })
  // One plain line, even with --quiet: the URL is the only way in (it carries the token).
  process.stdout.write(`ui ${gw.url}\n`)
  return gw
}

/** `baran ui`: attaches the web UI to a running node; follows the node across restarts; Ctrl-C stops it. */
export async function uiCommand(opts: UiOptions): Promise<number> {
  const { info } = await requireRunning(opts)
  const gw = await openUi(info.dataDir, opts.uiPort)
  process.stdout.write(`${paint('gray', `web UI of node ${info.node}: open the URL above (loopback only; Ctrl-C stops it)`)}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await gw.close()
  return Exit.Ok
}
