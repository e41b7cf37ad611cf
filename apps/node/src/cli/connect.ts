import { Bus, BusError, nodeStatus } from '@baran/bus/client'
import { readFile } from 'node:fs/promises'
import { CLI_USER } from '../lib/bus-auth.ts'
import { type NodeInfo, runningNode } from '../lib/node-info.ts'
import { nodePaths, resolveNode } from '../lib/paths.ts'
import { CliError, Exit } from './output.ts'

export interface NodeSelection {
  dataDir?: string
  node?: string
}

export function selectNode(opts: NodeSelection) {
  const { dataDir, node } = resolveNode(opts)
  return { dataDir, node, paths: nodePaths(dataDir) }
}

/** The running node picked by --node/--data-dir, or a clear "not running" error. */
export async function requireRunning(opts: NodeSelection): Promise<{ info: NodeInfo; paths: ReturnType<typeof nodePaths> }> {
  const { paths, node, dataDir } = selectNode(opts)
  const info = await runningNode(paths)
  if (!info) {
    throw new CliError(`node ${node} is not running (data dir ${dataDir})`, {
      exitCode: Exit.NotRunning,
      hint: `start it with \`baran start --data-dir ${dataDir}\` (or \`npm start\`)`,
    })
  }
  return { info, paths }
}

/** Connects to a running node's bus as the least-privileged `cli` user. */
export async function connectCli(opts: NodeSelection): Promise<{ bus: Bus; info: NodeInfo }> {
  const { info, paths } = await requireRunning(opts)
  let creds: { user?: string; pass?: string } = {}
  if (info.embeddedBus) {
    try {
      creds = JSON.parse(await readFile(paths.creds(CLI_USER), 'utf8')) as { user: string; pass: string }
    } catch (e) {
      throw new CliError(`cannot read the CLI's bus credentials in ${paths.credsDir}`, { cause: e, hint: 'run the CLI as the user that started the node' })
    }
  }
  try {
    const bus = await Bus.connect({ servers: info.busUrl, node: info.node, name: `baran-${info.node}-cli`, ...creds })
    return { bus, info }
  } catch (e) {
    throw new CliError(`cannot reach node ${info.node}'s bus at ${info.busUrl}: ${(e as Error).message}`, {
      exitCode: Exit.Unavailable,
      cause: e,
      hint: e instanceof BusError && e.code === 'forbidden' ? 'the bus refused the CLI credentials' : 'is the node still starting? try again',
    })
  }
}

/**
 * Runs `fn`; when `actor` does not answer (not running, or up but unable to serve), says why in the words of the
 * supervisor: the actor's state and the reason it gave (e.g. "the key store file is corrupt"), not only "nobody
 * serves baran.n1.identity.status".
 */
export async function explainingActor<T>(bus: Bus, actor: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (!(e instanceof BusError) || (e.code !== 'no_responder' && e.code !== 'unavailable')) throw e
    const a = await bus
      .request(nodeStatus, {}, { timeoutMs: 5000 })
      .then((s) => s.actors[actor])
      .catch(() => undefined)
    if (!a || a.state === 'ready') throw e
    throw new CliError(`the ${actor} actor is ${a.state}${a.reason ? `: ${a.reason}` : ''}`, {
      exitCode: Exit.Unavailable,
      cause: e,
      hint: `see \`baran status\` and ${actor}'s log in the data dir's logs/`,
    })
  }
}

/** Connects (connectCli), runs `fn` with the bus, turns its error into the user's words with `explain`, closes. */
export async function withCliBus<T>(opts: NodeSelection, fn: (bus: Bus) => Promise<T>, explain: (e: unknown) => unknown = (e) => e): Promise<T> {
  const { bus } = await connectCli(opts)
  try {
    return await fn(bus)
  } catch (e) {
    throw explain(e)
  } finally {
    await bus.close()
  }
}
