/**
 * The default node as a user runs it: `baran start` (the real `baran` executable, apps/node/bin/baran) on a fresh
 * data dir with its own BARAN_HOME, so the node owns a local network (anvil) like the first `npm start` on a
 * machine. Measures, per sample:
 * - cold start: first start of a fresh data dir and home (creates the account, starts and deploys the chain);
 * - warm start: second start of the same data dir (account and chain state on disk);
 * each from just before `baran start` is spawned until a `node.status` over the bus (polled every 20 ms, the same
 * request `baran status` makes) shows the node running with all five default actors ready;
 * - memory: VmRSS (and PSS) of every process of the running node (the supervisor's process tree: nats-server,
 *   each actor, anvil), read from /proc 2 s after the warm start was ready;
 * - `baran status` and `baran status --json`: wall clock from spawn to exit, against the warm node;
 * - start CPU: CPU time (user+system, /proc) each process of the node spent until ready (the supervisor's includes
 *   its ended children, e.g. the implementation inspector): comparable across runs on a busy machine, where the
 *   wall clock is not; and the start's phases read back from the node's logs (timeline.ts);
 * - the goals (issue 19): the node's processes (supervisor, five actors, nats-server; not anvil) ≤ 400 MiB RSS,
 *   warm start ≤ 2 s, `baran status` ≤ 0.3 s; `goals` says which are met in this run.
 *
 * `node.bench.ts [--starts N] [--status-runs N]` (or BARAN_BENCH_STARTS / BARAN_BENCH_STATUS_RUNS): N cold + N warm
 * starts (default 3) and status runs (default 5).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Bus, type NodeStatus, nodeStatus } from '@baran/bus'
import { dieWithParent } from '@baran/launch'
import { Cleanup, cpuMs, isAlive, tempDir, waitUntil } from '@baran/testkit'
import { busCreds } from '../test/helpers.ts'
import { memoryOf, type ProcessMemory, processTree } from './processes.ts'
import { startPhases } from './timeline.ts'

const { values } = parseArgs({ options: { starts: { type: 'string' }, 'status-runs': { type: 'string' } } })
const STARTS = Number(values.starts ?? process.env.BARAN_BENCH_STARTS ?? 3)
const STATUS_RUNS = Number(values['status-runs'] ?? process.env.BARAN_BENCH_STATUS_RUNS ?? 5)
const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox']
const BARAN = fileURLToPath(new URL('../bin/baran', import.meta.url))
const READY_TIMEOUT_MS = 120_000

const cleanup = new Cleanup()
const r1 = (x: number) => Math.round(x * 10) / 10
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return { median: r1(s[Math.floor(s.length / 2)] ?? Number.NaN), min: r1(s[0] ?? Number.NaN), max: r1(s.at(-1) ?? Number.NaN), runs: xs.map(r1) }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((res) => child.once('exit', (code) => res(code)))
}

/** Runs `baran <args>` to its end; returns the wall clock from spawn to exit. */
async function timeCli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now()
  const child = spawn(BARAN, args, { env: { ...process.env, ...env }, stdio: 'ignore' })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await exitOf(child)
  clearTimeout(killer)
  if (code !== 0) throw new Error(`baran ${args.join(' ')} exited with ${code}`)
  return performance.now() - t0
}

interface Started {
  ms: number
  child: ChildProcess
  status: NodeStatus
  busPid: number | null
  bus: Bus
  /** CPU ms each process spent until ready, by role. */
  cpu: Record<string, number>
  phases: Record<string, number | null>
}

/** `baran start` until all five actors are ready (clock from just before the spawn). */
async function start(home: string, dataDir: string): Promise<Started> {
  const t0 = performance.now()
  // The node ends with this bench even when the bench is killed (its cleanup then never runs).
  const child = spawn(...dieWithParent(BARAN, ['start', '--data-dir', dataDir, '--create-account', '--quiet']), { env: { ...process.env, BARAN_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  cleanup.add(`kill baran start ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const info = await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`baran start exited with ${child.exitCode}: ${stderr}`)
      const i = JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8')) as { busUrl: string; busPid: number | null; node: string; pid: number }
      return i.pid === child.pid ? i : undefined
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 10, what: 'node.json' },
  )
  const bus = await Bus.connect({ servers: info.busUrl, node: info.node, ...(await busCreds(dataDir, 'cli')) })
  const status = await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`baran start exited with ${child.exitCode}: ${stderr}`)
      const s = await bus.request(nodeStatus, {}, { timeoutMs: 2000 })
      return s.state === 'running' && ACTORS.every((a) => s.actors[a]?.state === 'ready') ? s : undefined
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 20, what: 'all five actors ready' },
  )
  const ms = performance.now() - t0
  const cpu: Record<string, number> = { supervisor: await cpuMs(child.pid as number, true) }
  if (info.busPid) cpu['nats-server'] = await cpuMs(info.busPid)
  for (const [name, a] of Object.entries(status.actors)) if (a.pid) cpu[a.process ?? name] = await cpuMs(a.pid) // a shared process once
  const anvil = await anvilPid(home)
  if (anvil) cpu.anvil = await cpuMs(anvil)
  const phases = await startPhases(join(dataDir, 'logs'), ACTORS)
  // Whatever happens next, no process of this node outlives the bench (SIGKILL of the supervisor alone would orphan them).
  const pids = [...(await processTree(child.pid as number)).keys(), ...[await anvilPid(home)].filter((p) => p !== undefined)]
  cleanup.add(`kill the processes of node ${info.node}`, async () => {
    for (const p of pids) if (isAlive(p)) process.kill(p, 'SIGKILL')
  })
  return { ms, child, status, busPid: info.busPid, bus, cpu, phases }
}

/** SIGTERM like Ctrl-C, then waits for the local network's chain to be gone too. */
async function stop(s: Started, home: string): Promise<void> {
  await s.bus.close().catch(() => undefined)
  const anvil = await anvilPid(home)
  s.child.kill('SIGTERM')
  const killer = setTimeout(() => s.child.kill('SIGKILL'), 20_000)
  const code = await exitOf(s.child)
  clearTimeout(killer)
  if (code !== 0) throw new Error(`baran start exited with ${code} on SIGTERM`)
  if (anvil) await waitUntil(() => !isAlive(anvil), { timeoutMs: 10_000, what: `anvil ${anvil} stopped` })
}

async function anvilPid(home: string): Promise<number | undefined> {
  const l = await readFile(join(home, 'localnet.json'), 'utf8').then((t) => JSON.parse(t) as { chain?: { pid?: number } }, () => undefined)
  return l?.chain?.pid
}

async function nodeMemory(s: Started, home: string): Promise<ProcessMemory[]> {
  const pid = s.child.pid as number
  const roles = new Map<number, string>([[pid, 'supervisor']])
  if (s.busPid) roles.set(s.busPid, 'nats-server')
  // Actors that share a process (threads) are that process: its name, e.g. core.
  for (const [name, a] of Object.entries(s.status.actors)) if (a.pid) roles.set(a.pid, a.process ?? name)
  const tree = await processTree(pid)
  const anvil = await anvilPid(home)
  if (anvil) {
    roles.set(anvil, 'anvil')
    // The chain may outlive the process that started it (a detached child): count it either way.
    for (const [p, comm] of await processTree(anvil)) tree.set(p, comm)
  }
  return memoryOf(tree, roles)
}

try {
  const cold: number[] = []
  const warm: number[] = []
  const statusMs: number[] = []
  const statusJsonMs: number[] = []
  let memory: ProcessMemory[] = []
  const coldCpu: number[] = []
  const warmCpu: number[] = []
  let warmCpuByProcess: Record<string, number> = {}
  let coldPhases: Record<string, number | null> = {}
  let warmPhases: Record<string, number | null> = {}
  const loadBefore = loadavg().map((x) => r1(x))
  const total = (cpu: Record<string, number>) => Object.values(cpu).reduce((a, b) => a + b, 0)
  for (let i = 0; i < STARTS; i++) {
    const home = await tempDir(cleanup, 'baran-bench-node-')
    const dataDir = join(home, 'node')
    const first = await start(home, dataDir)
    cold.push(first.ms)
    coldCpu.push(total(first.cpu))
    await stop(first, home)
    const second = await start(home, dataDir)
    warm.push(second.ms)
    warmCpu.push(total(second.cpu))
    if (i === 0) {
      coldPhases = first.phases
      warmPhases = second.phases
      warmCpuByProcess = second.cpu
      await new Promise((r) => setTimeout(r, 2000))
      memory = await nodeMemory(second, home)
      const env = { BARAN_HOME: home }
      for (let k = 0; k < STATUS_RUNS; k++) statusMs.push(await timeCli(['status', '--data-dir', dataDir], env))
      for (let k = 0; k < STATUS_RUNS; k++) statusJsonMs.push(await timeCli(['status', '--json', '--data-dir', dataDir], env))
    }
    await stop(second, home)
  }
  // One key per process: a role seen twice (two processes with one command name) gets its pid.
  const keyOf = (m: ProcessMemory) => (memory.filter((x) => x.role === m.role).length > 1 ? `${m.role}.${m.pid}` : m.role)
  const sum = (f: (m: ProcessMemory) => number) => r1(memory.reduce((a, m) => a + f(m), 0))
  const nodeRss = r1(memory.filter((m) => m.role !== 'anvil').reduce((a, m) => a + m.rssMiB, 0))
  const nodePss = r1(memory.filter((m) => m.role !== 'anvil').reduce((a, m) => a + m.pssMiB, 0))
  const warmStartMs = stats(warm)
  const statusWallMs = stats(statusMs)
  process.stdout.write(
    `${JSON.stringify({
      clocks: {
        start: 'from just before `baran start` is spawned to the first node.status (bus, polled every 20 ms) showing the node running and identity, naming, discovery, transport, outbox ready',
        status: 'from spawning `baran status` (apps/node/bin/baran) to its exit, against the running warm node',
        memory: 'VmRSS and Pss from /proc of every process in the supervisor tree plus anvil, 2 s after the first warm start was ready; nodeRssMiB/nodePssMiB: without anvil (the goal counts the supervisor, the five actors and nats-server)',
        cpu: 'user+system CPU ms from /proc/<pid>/stat at the moment the start was ready (the supervisor with its ended children)',
        phases: 'ms from the supervisor preparing, from the node and actor logs: localnet up, implementations loaded, bus started, per actor spawned / modules loaded (first state) / ready',
      },
      starts: STARTS,
      loadavg: { before: loadBefore, after: loadavg().map((x) => r1(x)) },
      goals: {
        nodeRssMiB: { goal: 400, value: nodeRss, met: nodeRss <= 400 },
        warmStartMs: { goal: 2000, value: warmStartMs.median, met: warmStartMs.median <= 2000 },
        statusWallMs: { goal: 300, value: statusWallMs.median, met: statusWallMs.median <= 300 },
      },
      coldStartMs: stats(cold),
      warmStartMs,
      coldStartCpuMs: stats(coldCpu),
      warmStartCpuMs: stats(warmCpu),
      warmStartCpuMsByProcess: warmCpuByProcess,
      coldStartPhasesMs: coldPhases,
      warmStartPhasesMs: warmPhases,
      statusWallMs,
      statusJsonWallMs: stats(statusJsonMs),
      nodeRssMiB: nodeRss,
      nodePssMiB: nodePss,
      rssMiB: { total: sum((m) => m.rssMiB), ...Object.fromEntries(memory.map((m) => [keyOf(m), r1(m.rssMiB)])) },
      pssMiB: { total: sum((m) => m.pssMiB), ...Object.fromEntries(memory.map((m) => [keyOf(m), r1(m.pssMiB)])) },
      processes: memory.length,
    })}\n`,
  )
} finally {
  await cleanup.run()
}
