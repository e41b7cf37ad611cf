/**
 * Baran's DHT against OpenDHT, in the same run: N local nodes each (default 20), one operation at
 * a time, the same operations on both: put, get (whole and first value), get of a missing key,
 * and listen (a watcher subscribed before the put; latency from the start of the put to the
 * watcher's callback). Prints one JSON line with p50/p95 of each side, the ratios Baran/OpenDHT
 * and the two goals (get p50 ≤ OpenDHT's; listen push p50 ≤ 2× OpenDHT's), and a table on stderr.
 *
 * OpenDHT is Debian's python3-opendht (2.4.12), installed here with apt-get when missing (root);
 * when it cannot be, the result says why and holds the Baran side only. Its nodes bind 127.0.0.1,
 * bootstrap from each other only, and run inside a network namespace that has only `lo`.
 *
 * Run from packages/discovery:
 *   npx node --conditions=@baran/source bench/opendht.bench.ts [--nodes 20] [--iterations 50] [--rounds 3] [--mode oneThread|threads|both]
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { encodeBundle, presenceKey, valueKey } from '../src/index.ts'
import { makeAccount, makeDevice, presenceBundle } from '../test/helpers.ts'
import { type Cluster, inProcessCluster, threadedCluster } from './cluster.ts'
import { closestIndexes, numberArg, type Stats, sleep, stats } from './lib.ts'

const NODES = numberArg('nodes', 20)
const ITER = numberArg('iterations', 50)
const REPLICATION = 8
const VALUE_BYTES = 256
/** Pause after a Baran put: its Kademlia lookup goes on in the background for ~100 ms. */
const PUT_GAP_MS = 250
/** Rounds of warm-up gets (one per node each) before the Baran side is measured. */
const WARM_ROUNDS = numberArg('warm', 30)
/** Turns each side takes (ITER / ROUNDS operations of each kind per turn). */
const ROUNDS = numberArg('rounds', 3)
/**
 * Which Baran layouts to measure: `--mode oneThread` (the default), `--mode threads` or
 * `--mode both`. On a 2-core machine the threaded layout is slower (measured: waking 20 threads
 * costs more than serializing them), so the default keeps the bench short.
 */
const MODE_ARG = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'oneThread'
const MODES: Array<'oneThread' | 'threads'> = MODE_ARG === 'both' ? ['oneThread', 'threads'] : [MODE_ARG === 'threads' ? 'threads' : 'oneThread']
const PYTHON = '/usr/bin/python3'
const SIDE_SCRIPT = fileURLToPath(new URL('./opendht-side.py', import.meta.url))

const say = (msg: string): void => {
  process.stderr.write(`[opendht.bench] ${msg}\n`)
}

function hasOpenDht(): boolean {
  return spawnSync(PYTHON, ['-c', 'import opendht'], { stdio: 'ignore', timeout: 30_000 }).status === 0
}

/** Install python3-opendht when missing; undefined when it is there, else why it is not. */
function ensureOpenDht(): string | undefined {
  if (hasOpenDht()) return undefined
  if (process.getuid?.() !== 0) return `python3-opendht is not installed and this is not root: run "apt-get install -y python3-opendht"`
  say('python3-opendht is missing: installing it with apt-get')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'python3-opendht'], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 })
  let r = install()
  if (r.status !== 0) {
    // A fresh machine has no package lists yet.
    spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 600_000 })
    r = install()
  }
  if (r.status !== 0 || !hasOpenDht()) return `apt-get install python3-opendht failed: ${String(r.stderr ?? r.error ?? '').trim().split('\n').slice(-2).join(' ')}`
  return undefined
}

/** Run the OpenDHT side (bench/opendht-side.py): its samples, or why it could not run. */
async function runOpenDht(iterations: number): Promise<{ samples?: Record<string, number[]>; info: Record<string, unknown> }> {
  const args = [SIDE_SCRIPT, '--nodes', String(NODES), '--iterations', String(iterations), '--value-bytes', String(VALUE_BYTES)]
  // A namespace with only lo: nothing can leave the machine whatever OpenDHT's defaults are.
  const isolated = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status === 0
  const [cmd, argv] = isolated ? ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', PYTHON, ...args]] : [PYTHON, args]
  if (!isolated) say('unshare -n is not permitted here: OpenDHT runs bound to 127.0.0.1 in this namespace')
  const stdout = await new Promise<string>((resolve) => {
    const child = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const limit = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000)
    child.on('close', () => {
      clearTimeout(limit)
      resolve(out)
    })
  })
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  } catch {
    return { info: { error: `the OpenDHT side printed no result: ${stdout.slice(-300)}` } }
  }
  const { samples: s, ...info } = parsed
  return { samples: s as Record<string, number[]> | undefined, info: { ...info, isolated } }
}

/** Warm up (OpenDHT is compiled; V8 compiles hot code as it runs): every node puts, gets and serves. */
async function warmUp(cluster: Cluster): Promise<void> {
  const warm = Array.from({ length: NODES }, () => valueKey(randomBytes(20).toString('hex')))
  await Promise.all(warm.map((k, j) => cluster.put(j, k, randomBytes(VALUE_BYTES))))
  for (let r = 0; r < WARM_ROUNDS; r++) await Promise.all(warm.map((_, j) => cluster.get(j, warm[(j + r + 1) % NODES] as string)))
  await sleep(1_000)
}

/**
 * One round of the Baran side: the same operations as OpenDHT's on a running cluster (all nodes
 * in this thread, or a worker thread each: see cluster.ts). A reader and a watcher never store
 * the key themselves. Counts what went wrong into `info`.
 */
async function measureBaran(cluster: Cluster, ITER: number, info: Record<string, number>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {}
  const WRITER = 1
  // A node that is neither the writer nor among the closest to the key (which store it).
  const outside = (key: string, i: number): number => {
    const storing = new Set(closestIndexes(cluster.peerIds, key, REPLICATION + 1))
    const others = cluster.peerIds.map((_, j) => j).filter((j) => j !== WRITER && !storing.has(j))
    return others[i % others.length] as number
  }
  {
    const keys = Array.from({ length: ITER }, () => valueKey(randomBytes(20).toString('hex')))
    out.put = []
    for (const key of keys) {
      out.put.push((await cluster.put(WRITER, key, randomBytes(VALUE_BYTES))).ms)
      await sleep(PUT_GAP_MS)
    }
    let misses = 0
    const get = async (quorum?: number): Promise<number[]> => {
      const ms: number[] = []
      for (const [i, key] of keys.entries()) {
        const r = await cluster.get(outside(key, i), key, quorum)
        if (!r.found) misses++
        ms.push(r.ms)
      }
      return ms
    }
    out.get = await get()
    // The first value: a get that stops at one answer (OpenDHT: its first get callback).
    out['get.first'] = await get(1)
    out['get.missing'] = []
    for (let i = 0; i < Math.min(ITER, 10); i++) out['get.missing'].push((await cluster.get(2 + (i % (NODES - 2)), valueKey(randomBytes(20).toString('hex')))).ms)
    info.getMisses = (info.getMisses ?? 0) + misses

    // Listen: a watcher subscribes before the put; latency from the start of the put to its callback.
    const subscriptions = async () => (await Promise.all(cluster.peerIds.map((_, j) => cluster.subscriptions(j)))).reduce((a, b) => a + b, 0)
    const listen = async (kind: 'value' | 'presence'): Promise<{ push: number[]; putDone: number[]; notByPush: number }> => {
      const push: number[] = []
      const putDone: number[] = []
      let notByPush = 0
      const account = makeAccount()
      for (let i = 0; i < ITER; i++) {
        const device = makeDevice(account)
        const key = kind === 'value' ? valueKey(randomBytes(20).toString('hex')) : presenceKey(device.deviceId)
        const watch = await cluster.watch(outside(key, i), key)
        for (let w = 0; w < 100 && (await subscriptions()) < REPLICATION; w++) await sleep(20)
        const put = await (kind === 'presence' ? cluster.publish(WRITER, encodeBundle(presenceBundle(device))) : cluster.put(WRITER, key, randomBytes(VALUE_BYTES)))
        putDone.push(put.ms)
        const seen = await Promise.race([watch.seen, sleep(10_000).then(() => undefined)])
        await watch.stop()
        for (let w = 0; w < 100 && (await subscriptions()) > 0; w++) await sleep(20) // unsubscribed everywhere
        await sleep(PUT_GAP_MS)
        if (seen === undefined) continue
        if (seen.via !== 'push') notByPush++
        push.push(seen.at - put.start)
      }
      return { push, putDone, notByPush }
    }
    const lv = await listen('value')
    out['listen.push'] = lv.push
    out['listen.putDone'] = lv.putDone
    const lp = await listen('presence')
    out['listen.push.presence'] = lp.push
    info.listenNotByPush = (info.listenNotByPush ?? 0) + lv.notByPush + lp.notByPush
    info.listenMissed = (info.listenMissed ?? 0) + 2 * ITER - lv.push.length - lp.push.length
  }
  return out
}

/** Append every sample list of `more` to `into`. */
function merge(into: Record<string, number[]>, more: Record<string, number[]> | undefined): void {
  for (const [k, v] of Object.entries(more ?? {})) into[k] = [...(into[k] ?? []), ...v]
}

const ratio = (a?: Stats, b?: Stats, f: 'p50' | 'p95' = 'p50'): number | null =>
  a && b && b[f] > 0 ? Math.round((a[f] / b[f]) * 100) / 100 : null

async function main(): Promise<void> {
  const result: Record<string, unknown> = { bench: 'discovery-vs-opendht', node: process.version, nodes: NODES, iterations: ITER, rounds: ROUNDS, replication: REPLICATION, valueBytes: VALUE_BYTES }
  const missing = ensureOpenDht()
  if (missing !== undefined) say(`OpenDHT side not measured: ${missing} — reporting the Baran side only`)
  // The sides take turns, round after round (never at the same time), so a change in the machine's
  // load falls on both: OpenDHT's nodes run in a fresh process each round while Baran's wait.
  const per = Math.max(1, Math.ceil(ITER / ROUNDS))
  const odhtSamples: Record<string, number[]> = {}
  let odhtInfo: Record<string, unknown> = missing === undefined ? {} : { error: missing }
  const ops = ['put', 'get', 'get.first', 'get.missing', 'listen.push', 'listen.putDone']
  const o: Record<string, Stats | undefined> = {}
  const byMode: Record<string, Record<string, Stats | undefined>> = {}
  for (const [m, mode] of MODES.entries()) {
    const cluster = mode === 'threads' ? await threadedCluster(NODES, { replication: REPLICATION }) : await inProcessCluster(NODES, { replication: REPLICATION })
    const samples: Record<string, number[]> = {}
    const info: Record<string, number> = {}
    try {
      await warmUp(cluster)
      for (let r = 0; r < ROUNDS; r++) {
        if (m === 0 && missing === undefined) {
          const odht = await runOpenDht(per)
          if (odht.samples === undefined) say(`OpenDHT round ${r + 1} failed: ${String(odht.info.error)}`)
          merge(odhtSamples, odht.samples)
          odhtInfo = { ...odhtInfo, ...odht.info }
        }
        merge(samples, await measureBaran(cluster, per, info))
      }
    } finally {
      await cluster.stop()
    }
    const b: Record<string, Stats | undefined> = {}
    for (const [k, v] of Object.entries(samples)) b[k] = stats(v)
    byMode[mode] = b
    result[`baran.${mode}`] = { ...b, info: { mode, setup: cluster.setup, ...info } }
  }
  const measured = Object.keys(odhtSamples).length > 0
  for (const [k, v] of Object.entries(odhtSamples)) o[k] = stats(v)
  result.opendht = measured ? { ...o, info: odhtInfo } : { info: odhtInfo }
  const goals: Record<string, unknown> = {}
  const ratios: Record<string, unknown> = {}
  for (const mode of MODES) {
    const b = byMode[mode] as Record<string, Stats | undefined>
    if (!measured) continue
    ratios[mode] = Object.fromEntries(ops.flatMap((k) => [[`${k}.p50`, ratio(b[k], o[k])], [`${k}.p95`, ratio(b[k], o[k], 'p95')]]))
    const get = { baran: b.get?.p50 ?? null, opendht: o.get?.p50 ?? null }
    const push = { baran: b['listen.push']?.p50 ?? null, opendht: o['listen.push']?.p50 ?? null }
    goals[mode] = {
      'get.p50 ≤ OpenDHT': { ...get, met: get.baran !== null && get.opendht !== null && get.baran <= get.opendht },
      'listen.push.p50 ≤ 2× OpenDHT': { ...push, met: push.baran !== null && push.opendht !== null && push.baran <= 2 * push.opendht },
    }
  }
  result.ratios = measured ? ratios : null
  result.goals = measured ? goals : `not evaluated: ${String(odhtInfo.error ?? 'no OpenDHT samples')}`
  result.notes = [
    'One operation at a time on every side; a reader or a watcher never stores the key itself.',
    'baran.oneThread: all 20 nodes on one Node.js event loop, so every responder\'s work is serialized (a put\'s 8 storing nodes handle it one after the other before the watcher runs). baran.threads: one worker thread per node, each with its own event loop, as each Baran node runs discovery in its own process, and as OpenDHT runs each node on its own C++ thread. The machine has 2 cores.',
    'Baran get: the closest peers the routing table knows, over long-lived rpc streams, until a quorum of 3 (get.first: 1). OpenDHT get: until its search is done (get.first: its first value).',
    'Baran put: to the 8 closest known peers over rpc links, done when they answered (an rpc lookup follows in the background). OpenDHT put: done when its search stored it.',
    'listen.push: from the start of the put to the callback on the watcher; listen.push.presence (Baran only) is a signed presence record, checked by every storing node and the watcher.',
  ]
  // A table for people on stderr; one JSON line on stdout (`npm run bench` keeps the last JSON line).
  for (const mode of MODES) {
    const b = byMode[mode] as Record<string, Stats | undefined>
    say(`Baran (${mode}) vs OpenDHT, ms p50 / p95:`)
    for (const k of [...ops, 'listen.push.presence']) {
      const f = (x?: Stats) => (x ? `${x.p50} / ${x.p95}` : '—')
      say(`  ${k.padEnd(22)} baran ${f(b[k]).padEnd(18)} opendht ${f(o[k]).padEnd(18)} ratio p50 ${ratio(b[k], o[k]) ?? '—'}`)
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

await main()
process.exit(0)
