import { Bus, healthContractOf, identityStatus, type NodeStatus, nodeStatus } from '@baran/bus'
import { type Cleanup, finished, spawnCommand, spawnProcess, tempDir, type SpawnedProcess, waitUntil } from '@baran/testkit'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodePaths } from '../src/lib/paths.ts'

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
/**
 * The `baran` executable as a user runs it (what `npm link` and the workspace install put on PATH): the built
 * JavaScript with Node's compile cache while no source is newer than the build (`npm test` builds first), else
 * the sources. A node starts ~2 s sooner from the build, which most of the end-to-end tests pay several times.
 */
export const BARAN = fileURLToPath(new URL('../bin/baran', import.meta.url))

/** Runs the `baran` executable (BARAN) with `args`, killed by the cleanup; `source` forces the TypeScript sources. */
export function spawnBaran(cleanup: Cleanup, args: string[], opts: { env?: NodeJS.ProcessEnv; source?: boolean } = {}): SpawnedProcess {
  const env = { ...opts.env, ...(opts.source ? { BARAN_FROM_SOURCE: '1' } : {}) }
  return spawnCommand(BARAN, args, { cleanup, env })
}
/** The built CLI (tools/build.mjs), as `npm start` runs it: its actors run their bundles. */
export const BUILT_CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
/** The built command line's bundle (tools/bundle-actors.mjs): what bin/baran runs for `start` when it exists. */
export const BUILT_START = fileURLToPath(new URL('../dist/lib/cli.bundle.js', import.meta.url))

export interface TestNode {
  dataDir: string
  /** BARAN_HOME of the node: nodes that share it share the machine's local network. */
  home: string
  node: string
  proc: SpawnedProcess
  /** A bus client logged in as the `cli` user. */
  bus: Bus
  status(): Promise<NodeStatus>
}

/**
 * Runs `baran start` as a real process (the `baran` executable; `built` runs the build's entry without it, `source`
 * the sources) and waits until the node is running. By default on a fresh temp BARAN_HOME; pass `home` to put
 * several nodes on one machine's local network, and `dataDir` to start a node again on its data (after `stopNode`).
 */
export async function startNode(
  cleanup: Cleanup,
  config: object,
  opts: { name?: string; home?: string; dataDir?: string; args?: string[]; built?: boolean; source?: boolean } = {},
): Promise<TestNode> {
  const parent = opts.home ?? (await tempDir(cleanup, 'baran-node-'))
  const dataDir = opts.dataDir ?? join(parent, opts.name ?? 'n1')
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify(config))
  const args = ['start', '--data-dir', dataDir, ...(opts.args ?? [])]
  const env = { BARAN_HOME: parent }
  const proc = opts.built
    ? spawnProcess(existsSync(BUILT_START) ? BUILT_START : BUILT_CLI, { cleanup, args, env, source: false })
    : spawnBaran(cleanup, args, { env, source: opts.source ?? false })
  const info = await waitUntil(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`baran start exited: ${proc.output.join('\n')}`)
      return JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { busUrl: string; node: string }
    },
    { timeoutMs: 60_000, what: 'node.json' },
  )
  const bus = await Bus.connect({ servers: info.busUrl, node: info.node, ...(await busCreds(dataDir, 'cli')) })
  cleanup.add('close cli bus', () => bus.close())
  const status = () => bus.request(nodeStatus, {})
  await waitUntil(async () => (await status()).state === 'running', { timeoutMs: 60_000, what: `node ${info.node} running` })
  return { dataDir, home: parent, node: info.node, proc, bus, status }
}

/** A bus user's name and password as the node wrote them for it (`bus/creds/<user>.json`). */
export async function busCreds(dataDir: string, user: string): Promise<{ user: string; pass: string }> {
  return JSON.parse(await readFile(nodePaths(dataDir).creds(user), 'utf8')) as { user: string; pass: string }
}

/** A connection to a running node's bus as one of its users, closed by `cleanup`. */
export async function connectAs(n: { dataDir: string; node: string }, user: string, cleanup: Cleanup, name?: string): Promise<Bus> {
  const info = JSON.parse(await readFile(nodePaths(n.dataDir).nodeInfo, 'utf8')) as { busUrl: string }
  const bus = await Bus.connect({ servers: info.busUrl, node: n.node, ...(await busCreds(n.dataDir, user)), ...(name ? { name } : {}) })
  cleanup.add(`close ${n.node}'s bus connection as ${user}`, () => bus.close())
  return bus
}

/** Two nodes on one local network, each with its own new account. */
export interface NodePair {
  /** Alice's node: it owns the local network (its BARAN_HOME). */
  a: TestNode
  /** Bob's node: it joins Alice's local network. */
  b: TestNode
  /** Alice's account ID. */
  alice: string
  /** Bob's account ID. */
  bob: string
}

/**
 * Starts Alice's node, then Bob's on its local network, both with `--create-account` and the same `config`,
 * and waits for both accounts. Both are stopped at cleanup (SIGTERM, Bob first). `aliceDataDir` puts Alice's
 * data somewhere else (e.g. a small tmpfs); by default it is `alice` under her BARAN_HOME.
 */
export async function startTwoNodes(cleanup: Cleanup, opts: { config?: object; aliceDataDir?: string; built?: boolean } = {}): Promise<NodePair> {
  const config = opts.config ?? {}
  const built = opts.built ?? false
  const a = await startNode(cleanup, config, { ...(opts.aliceDataDir ? { dataDir: opts.aliceDataDir } : { name: 'alice' }), args: ['--create-account'], built })
  const b = await startNode(cleanup, config, { name: 'bob', home: a.home, args: ['--create-account'], built })
  cleanup.add('stop nodes', async () => {
    for (const n of [b, a]) await n.proc.stop('SIGTERM', 20_000)
  })
  // --create-account runs right after the node is up: wait for both accounts.
  const account = (n: TestNode) =>
    waitUntil(async () => (await n.bus.request(identityStatus, {})).account?.accountId, { timeoutMs: 30_000, what: `account of ${n.node}` })
  return { a, b, alice: await account(a), bob: await account(b) }
}

/** Stops a node like Ctrl-C would (SIGTERM: actors in reverse order, then the bus) and waits for it. */
export async function stopNode(n: TestNode): Promise<void> {
  await n.bus.close().catch(() => undefined)
  const { code } = await n.proc.stop('SIGTERM', 20_000)
  if (code !== 0) throw new Error(`node ${n.node} exited with ${code}: ${n.proc.output.slice(-20).join('\n')}`)
}

/**
 * kill -9 of the process of one of a node's actors; resolves once its supervisor runs a new one and every actor the
 * process ran is ready and answers its health on the bus. Returns the killed pid.
 */
export async function killActor(n: TestNode, actor: string, timeoutMs = 60_000): Promise<number> {
  const before = (await n.status()).actors
  const pid = before[actor]?.pid
  if (typeof pid !== 'number' || pid <= 1) throw new Error(`no pid for ${n.node}'s ${actor}: ${pid}`)
  // An actor that shares its process (a thread, e.g. of the default node's core) takes its neighbours with it.
  const killed = Object.keys(before).filter((name) => before[name]?.pid === pid)
  process.kill(pid, 'SIGKILL')
  const back = async (name: string) => {
    const a = (await n.status()).actors[name]
    if (!a?.pid || a.pid === pid || a.state !== 'ready') return false
    const h = await n.bus.request(healthContractOf(name), {}, { timeoutMs: 2000 }).catch(() => undefined)
    return h?.pid === a.pid
  }
  await waitUntil(async () => (await Promise.all(killed.map(back))).every(Boolean), {
    timeoutMs,
    intervalMs: 100,
    what: `${n.node}'s ${killed.join(', ')} restarted`,
  })
  return pid
}

/** Reads a node's actor log (pino JSON lines). */
export async function actorLog(n: Pick<TestNode, 'dataDir'>, actor: string): Promise<Array<Record<string, unknown> & { msg?: string; time?: string }>> {
  const text = await readFile(join(n.dataDir, 'logs', `${actor}.log`), 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Runs the CLI once and returns its exit code and output. */
export async function cli(cleanup: Cleanup, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const p = spawnBaran(cleanup, args, { env })
  const { code } = await finished(p)
  return { code, out: p.output.join('\n') }
}

/** A fingerprint of everything under dir ("absent" when it does not exist): proves that nothing was written. */
export async function hashDir(dir: string): Promise<string> {
  const h = createHash('sha256')
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => undefined)
  if (!entries) return 'absent'
  for (const f of entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()) {
    h.update(f).update(await readFile(f))
  }
  return h.digest('hex')
}
