/**
 * Start-up and memory of a node: time from spawn to `ready` for one actor process and for a whole node
 * (`baran start` until every actor is ready), and the RSS of each process of a running node.
 */
import { Bus, nodeStatus, stateEventOf, startNatsServer } from '@baran/bus'
import { Cleanup, spawnProcess, tempDir, waitUntil } from '@baran/testkit'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNS = 5
const cleanup = new Cleanup()
const echoEntry = fileURLToPath(import.meta.resolve('@baran/testkit/example-actor').replace('echo.ts', 'main.ts'))
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN

function rssMiB(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024)
}

try {
  // One actor process: spawn → ready event.
  const dir = await tempDir(cleanup)
  const server = await startNatsServer({ workDir: dir })
  cleanup.add('nats', () => server.stop())
  const bus = await Bus.connect({ servers: server.url, node: 'b' })
  cleanup.add('bus', () => bus.close())
  const actorTimes: number[] = []
  for (let i = 0; i < RUNS; i++) {
    let readyAt = 0
    const sub = await bus.subscribe(stateEventOf('echo'), (e) => {
      if (e.state === 'ready') readyAt = performance.now()
    })
    const t0 = performance.now()
    const p = spawnProcess(echoEntry, { cleanup, env: { BARAN_NODE: 'b', BARAN_BUS_URL: server.url, BARAN_DATA_DIR: dir } })
    await waitUntil(() => readyAt > 0, { timeoutMs: 30_000, intervalMs: 5 })
    actorTimes.push(readyAt - t0)
    sub.unsubscribe()
    await p.stop()
  }

  // A whole node: `baran start` → every actor ready.
  const nodeTimes: number[] = []
  let rss: Record<string, number> = {}
  for (let i = 0; i < RUNS; i++) {
    const home = await tempDir(cleanup)
    const dataDir = join(home, 'bench')
    await mkdir(dataDir, { recursive: true })
    await writeFile(join(dataDir, 'config.json'), JSON.stringify({ actors: { identity: '@baran/identity', echo: '@baran/testkit/example-actor' } }))
    const t0 = performance.now()
    const proc = spawnProcess(cli, { cleanup, args: ['start', '--data-dir', dataDir, '--quiet'], env: { BARAN_HOME: home } })
    const info = await waitUntil(async () => JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { busUrl: string; busPid: number }, { timeoutMs: 30_000, intervalMs: 5 })
    const creds = JSON.parse(await readFile(join(dataDir, 'bus', 'creds', 'cli.json'), 'utf8')) as { user: string; pass: string }
    const cliBus = await Bus.connect({ servers: info.busUrl, node: 'bench', ...creds })
    const status = await waitUntil(
      async () => {
        const s = await cliBus.request(nodeStatus, {})
        return s.state === 'running' && Object.values(s.actors).every((a) => a.state === 'ready') ? s : undefined
      },
      { timeoutMs: 30_000, intervalMs: 10 },
    )
    nodeTimes.push(performance.now() - t0)
    if (i === RUNS - 1) {
      rss = { supervisor: await rssMiB(proc.pid), 'nats-server': await rssMiB(info.busPid) }
      for (const [name, a] of Object.entries(status.actors)) if (a.pid) rss[name] = await rssMiB(a.pid)
    }
    await cliBus.close()
    await proc.stop()
  }
  const r2 = (x: number) => Math.round(x * 10) / 10
  process.stdout.write(
    `${JSON.stringify({
      actorSpawnToReadyMs: { median: r2(median(actorTimes)), runs: actorTimes.map(r2) },
      nodeStartToAllReadyMs: { median: r2(median(nodeTimes)), runs: nodeTimes.map(r2), actors: 'identity, echo' },
      rssMiB: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, r2(v)])),
    })}\n`,
  )
} finally {
  await cleanup.run()
}
