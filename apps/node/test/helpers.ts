import { Bus, type NodeStatus, nodeStatus } from '@baran/bus'
import { type Cleanup, spawnProcess, tempDir, type SpawnedProcess, waitUntil } from '@baran/testkit'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))

export interface TestNode {
  dataDir: string
  node: string
  proc: SpawnedProcess
  /** A bus client logged in as the `cli` user. */
  bus: Bus
  status(): Promise<NodeStatus>
}

/** Runs `baran start` as a real process on a temp data dir and waits until every actor is ready. */
export async function startNode(cleanup: Cleanup, config: object, opts: { name?: string } = {}): Promise<TestNode> {
  const parent = await tempDir(cleanup, 'baran-node-')
  const dataDir = join(parent, opts.name ?? 'n1')
  await import('node:fs/promises').then((fs) => fs.mkdir(dataDir, { recursive: true }))
  await writeFile(join(dataDir, 'config.json'), JSON.stringify(config))
  const proc = spawnProcess(CLI, { cleanup, args: ['start', '--data-dir', dataDir], env: { BARAN_HOME: parent } })
  const info = await waitUntil(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`baran start exited: ${proc.output.join('\n')}`)
      return JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { busUrl: string; node: string }
    },
    { timeoutMs: 30_000, what: 'node.json' },
  )
  const creds = JSON.parse(await readFile(join(dataDir, 'bus', 'creds', 'cli.json'), 'utf8')) as { user: string; pass: string }
  const bus = await Bus.connect({ servers: info.busUrl, node: info.node, ...creds })
  cleanup.add('close cli bus', () => bus.close())
  const status = () => bus.request(nodeStatus, {})
  await waitUntil(async () => (await status()).state === 'running', { timeoutMs: 60_000, what: `node ${info.node} running` })
  return { dataDir, node: info.node, proc, bus, status }
}

/** Runs the CLI once and returns its exit code and output. */
export async function cli(cleanup: Cleanup, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const p = spawnProcess(CLI, { cleanup, args, env })
  const { code } = await p.exited
  return { code, out: p.output.join('\n') }
}
