/**
 * Baran's DHT against OpenDHT, like with like, in the same run: N local nodes each (default 20), one
 * operation at a time, the same operations on both sides with the clocks started at the same point:
 *  - put: from the call until the put is done, lookup included on both sides (Baran `waitForLookup`;
 *    OpenDHT's put blocks until its search stored the value);
 *  - get: a full get (Baran quorum = replication, the lookup included when the table's closest peers fall
 *    short; OpenDHT until its search is done);
 *  - get.first: from the call to the first value of that same full get (Baran's `onEntry`; OpenDHT's first get
 *    callback): one get gives both clocks on both sides;
 *  - get.missing: a key nobody has (a whole search on both sides);
 *  - listen.push: a watcher subscribed before the put; from the start of the put to the watcher's callback.
 * Baran-only rows: get.quorum1 (a get that asks for one value: one request at a time; until stop 42 the first-value
 * row), get.quorum3 (Baran's default get), listen.push.presence (a signed presence record).
 * `hopFloor` (same run, hop-floor.ts): the p50 round trip of one frame between worker threads over UDP and over
 * libp2p streams on discovery's stack, back to back, to an idle thread, and to as many idle threads at once as a
 * full get asks: what a hop and a full get's or put's fan-out cost each side in transport alone. Each goal in the
 * JSON says whether its time (goal × OpenDHT's p50) is above that floor at all (`reachable`). `coldCache`
 * (cold-cache.ts): what a pause costs memory-bound code on the machine, the reason an idle thread is slow to answer.
 *
 * The headline layout (default `--mode threads`) gives each Baran node its own worker thread (its own event
 * loop), as each OpenDHT node has its own threads; `--mode both` adds the secondary row with every Baran node
 * on one event loop (`oneThread`). Baran's rpc goes in UDP datagrams, as a node's does by default (`udpRpc`);
 * `--streams-only` keeps it on libp2p streams (the goals' transport floor follows: UDP's or libp2p's round trip).
 * Both sides warm up the same way before every round (every node puts one
 * value, then `--warm` rounds in which every node gets another's), take turns round by round, and are left as idle
 * between operations (PUT_GAP_MS after a put, LISTEN_SETTLE_MS between a listen and its put). Every round's failures
 * are kept in the JSON (`rounds`). Ratios: pooled (all rounds' samples) and by round (the median of each round's
 * ratio: the two turns of a round run one after the other, so a slow spell of the machine falls on one round, not on
 * one side); a goal is met only if both are within it.
 *
 * OpenDHT is Debian's python3-opendht (2.4.12), installed here with apt-get when missing (root), as is
 * iproute2 for the namespace; when it cannot be, the result says why and holds the Baran side only. Its nodes
 * bind 127.0.0.1, bootstrap from each other only, and run inside a network namespace that has only `lo`.
 *
 * Run from packages/discovery (full size: `npm run bench -- opendht.bench` from the root):
 *   npx node --conditions=@baran/source bench/opendht.bench.ts [--nodes 20] [--iterations 50] [--rounds 5] [--warm 30] [--mode threads|oneThread|both]
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { encodeBundle, presenceKey, valueKey } from '../src/index.ts'
import { makeAccount, makeDevice, presenceBundle } from '../test/helpers.ts'
import { type Cluster, type Got, inProcessCluster, threadedCluster } from './cluster.ts'
import { coldCache } from './cold-cache.ts'
import { type HopFloor, hopFloor } from './hop-floor.ts'
import { closestIndexes, numberArg, type Stats, sleep, stats } from './lib.ts'

const NODES = numberArg('nodes', 20)
const ITER = numberArg('iterations', 50)
const REPLICATION = 8
const VALUE_BYTES = 256
/** Pause after a put, untimed, so background work is over before the next operation (both sides: the same idle). */
const PUT_GAP_MS = 250
/** Idle between a watcher's subscription and the put it waits for (both sides; OpenDHT cannot tell when its listen arrived). */
const LISTEN_SETTLE_MS = 300
/** Rounds of warm-up gets (one per node each), on both sides, before every measured round. */
const WARM_ROUNDS = numberArg('warm', 30)
/** Turns each side takes (ITER / ROUNDS operations of each kind per turn). */
const ROUNDS = numberArg('rounds', 5)
type Mode = 'threads' | 'oneThread'
/** `--mode threads` (the default, the headline), `--mode oneThread`, or `--mode both` (threads, then oneThread). */
const MODE_ARG = process.argv.includes('--mode') ? process.argv[process.argv.indexOf('--mode') + 1] : 'threads'
const MODES: Mode[] = MODE_ARG === 'both' ? ['threads', 'oneThread'] : [MODE_ARG === 'oneThread' ? 'oneThread' : 'threads']
const LAYOUT: Record<Mode, string> = {
  threads: 'one worker thread (own event loop) per Baran node',
  oneThread: 'secondary: every Baran node on one event loop',
}
/** Baran's rpc carries its requests by datagram as a node does by default (`udpRpc`); `--streams-only`: on libp2p streams alone. */
const UDP = !process.argv.includes('--streams-only')
const PYTHON = '/usr/bin/python3'
const SIDE_SCRIPT = fileURLToPath(new URL('./opendht-side.py', import.meta.url))

const say = (msg: string): void => {
  process.stderr.write(`[opendht.bench] ${msg}\n`)
}

const has = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 }).status === 0
const hasOpenDht = (): boolean => has(PYTHON, ['-c', 'import opendht'])
const hasIp = (): boolean => has('ip', ['-V'])

/** apt-get install a Debian package (root only; `apt-get update` first when the lists are missing); why not, or undefined. */
function aptInstall(pkg: string, present: () => boolean): string | undefined {
  if (present()) return undefined
  if (process.getuid?.() !== 0) return `${pkg} is not installed and this is not root: run "apt-get install -y ${pkg}"`
  say(`${pkg} is missing: installing it with apt-get`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', pkg], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 })
  let r = install()
  if (r.status !== 0) {
    // A fresh machine has no package lists yet.
    spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore', timeout: 600_000 })
    r = install()
  }
  if (r.status !== 0 || !present()) return `apt-get install ${pkg} failed: ${String(r.stderr ?? r.error ?? '').trim().split('\n').slice(-2).join(' ')}`
  return undefined
}

/** Prerequisites of the OpenDHT side: python3-opendht (required), iproute2 (for the isolated namespace). */
function ensureOpenDht(): string | undefined {
  const noIp = aptInstall('iproute2', hasIp)
  if (noIp !== undefined) say(`${noIp}: OpenDHT will run without its own network namespace`)
  return aptInstall('python3-opendht', hasOpenDht)
}

/** Run one round of the OpenDHT side (bench/opendht-side.py): its samples, or why it could not run. */
async function runOpenDht(iterations: number): Promise<{ samples?: Record<string, number[]>; info: Record<string, unknown> }> {
  const args = [SIDE_SCRIPT, '--nodes', String(NODES), '--iterations', String(iterations), '--value-bytes', String(VALUE_BYTES), '--warm', String(WARM_ROUNDS), '--put-gap-ms', String(PUT_GAP_MS), '--listen-settle-ms', String(LISTEN_SETTLE_MS)]
  // A namespace with only lo: nothing can leave the machine whatever OpenDHT's defaults are.
  const isolated = hasIp() && spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status === 0
  const [cmd, argv] = isolated ? ['unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', PYTHON, ...args]] : [PYTHON, args]
  if (!isolated) say('no network namespace here (unshare -n not permitted or no iproute2): OpenDHT runs bound to 127.0.0.1 in this one')
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
    return { info: { error: `the OpenDHT side printed no result: ${stdout.slice(-300)}`, isolated } }
  }
  const { samples: s, ...info } = parsed
  return { samples: s as Record<string, number[]> | undefined, info: { ...info, isolated } }
}

/**
 * Warm-up, the same as opendht-side.py's: every node puts one value, then WARM_ROUNDS rounds in which every
 * node gets another node's value (all nodes at once, each round waited for). Returns the gets that found nothing.
 */
async function warmUp(cluster: Cluster): Promise<{ warmMs: number; warmGetsMissed: number; warmPutsFailed: number }> {
  const t = performance.now()
  const warm = Array.from({ length: NODES }, () => valueKey(randomBytes(20).toString('hex')))
  const puts = await Promise.allSettled(warm.map((k, j) => cluster.put(j, k, randomBytes(VALUE_BYTES), { waitForLookup: true })))
  let missed = 0
  for (let r = 0; r < WARM_ROUNDS; r++) {
    const got = await Promise.allSettled(warm.map((_, j) => cluster.get(j, warm[(j + r + 1) % NODES] as string, REPLICATION)))
    missed += got.filter((g) => g.status === 'rejected' || !g.value.found).length
  }
  const out = { warmMs: Math.round(performance.now() - t), warmGetsMissed: missed, warmPutsFailed: puts.filter((p) => p.status === 'rejected').length }
  await sleep(1_000) // as the OpenDHT side: a pause after the warm-up
  return out
}

/**
 * One round of the Baran side: the same operations as OpenDHT's on a running cluster. A reader and a watcher
 * never store the key themselves. Returns the samples and this round's failures.
 */
async function measureBaran(cluster: Cluster, iterations: number): Promise<{ samples: Record<string, number[]>; failures: Record<string, number> }> {
  const out: Record<string, number[]> = {}
  const failures: Record<string, number> = { put: 0, get: 0, 'get.quorum1': 0, 'get.quorum3': 0, listen: 0, listenNotByPush: 0 }
  const WRITER = 1
  // A node that is neither the writer nor among the `replication` closest to the key (which store it), as
  // opendht-side.py picks its readers; with very few nodes, any node but the writer.
  const outside = (key: string, i: number): number => {
    const storing = new Set(closestIndexes(cluster.peerIds, key, REPLICATION))
    const notWriter = cluster.peerIds.map((_, j) => j).filter((j) => j !== WRITER)
    const others = notWriter.filter((j) => !storing.has(j))
    const pool = others.length > 0 ? others : notWriter
    return pool[i % pool.length] as number
  }
  const keys = Array.from({ length: iterations }, () => valueKey(randomBytes(20).toString('hex')))
  out.put = []
  for (const key of keys) {
    try {
      out.put.push((await cluster.put(WRITER, key, randomBytes(VALUE_BYTES), { waitForLookup: true })).ms)
    } catch {
      failures.put = (failures.put ?? 0) + 1
    }
    await sleep(PUT_GAP_MS)
  }
  /**
   * Gets of every key from outside its storing set; a miss counts as a failure (and its time is not a sample). With
   * `first`, the same get's first value is a sample of that name too (as OpenDHT's side takes both from one get).
   */
  const gets = async (name: string, quorum: number, first?: string): Promise<void> => {
    const ms: number[] = []
    const firstMs: number[] = []
    for (const [i, key] of keys.entries()) {
      const r = await cluster.get(outside(key, i), key, quorum).catch((): Got => ({ ms: 0, found: false }))
      if (r.found) {
        ms.push(r.ms)
        if (r.firstMs !== undefined) firstMs.push(r.firstMs)
      } else failures[name] = (failures[name] ?? 0) + 1
    }
    out[name] = ms
    if (first !== undefined) out[first] = firstMs
  }
  await gets('get', REPLICATION, 'get.first')
  await gets('get.quorum1', 1)
  await gets('get.quorum3', 3)
  out['get.missing'] = []
  for (let i = 0; i < Math.min(iterations, 10); i++) {
    const r = await cluster.get(2 + (i % (NODES - 2)), valueKey(randomBytes(20).toString('hex')), REPLICATION)
    out['get.missing'].push(r.ms)
  }

  // Listen: a watcher subscribes before the put; latency from the start of the put to its callback.
  const subscriptions = async () => (await Promise.all(cluster.peerIds.map((_, j) => cluster.subscriptions(j)))).reduce((a, b) => a + b, 0)
  const listen = async (kind: 'value' | 'presence'): Promise<{ push: number[]; putDone: number[] }> => {
    const push: number[] = []
    const putDone: number[] = []
    const account = makeAccount()
    for (let i = 0; i < iterations; i++) {
      const device = makeDevice(account)
      const key = kind === 'value' ? valueKey(randomBytes(20).toString('hex')) : presenceKey(device.deviceId)
      const watch = await cluster.watch(outside(key, i), key)
      for (let w = 0; w < 100 && (await subscriptions()) < REPLICATION; w++) await sleep(20)
      await sleep(LISTEN_SETTLE_MS) // as idle before the put as OpenDHT's side is
      try {
        const put = await (kind === 'presence' ? cluster.publish(WRITER, encodeBundle(presenceBundle(device))) : cluster.put(WRITER, key, randomBytes(VALUE_BYTES), { waitForLookup: true }))
        putDone.push(put.ms)
        const seen = await Promise.race([watch.seen, sleep(10_000).then(() => undefined)])
        if (seen === undefined) failures.listen = (failures.listen ?? 0) + 1
        else {
          if (seen.via !== 'push') failures.listenNotByPush = (failures.listenNotByPush ?? 0) + 1
          push.push(seen.at - put.start)
        }
      } catch {
        failures.listen = (failures.listen ?? 0) + 1
      }
      await watch.stop()
      for (let w = 0; w < 100 && (await subscriptions()) > 0; w++) await sleep(20) // unsubscribed everywhere
      await sleep(PUT_GAP_MS)
    }
    return { push, putDone }
  }
  const lv = await listen('value')
  out['listen.push'] = lv.push
  out['listen.putDone'] = lv.putDone
  out['listen.push.presence'] = (await listen('presence')).push
  return { samples: out, failures }
}

/** Stats of each operation over all rounds' samples together (a round that ran nothing adds nothing). */
function pooledStats(rounds: Array<Record<string, number[]> | undefined>): Record<string, Stats | undefined> {
  const all: Record<string, number[]> = {}
  for (const round of rounds) {
    for (const [k, v] of Object.entries(round ?? {})) {
      all[k] ??= []
      all[k].push(...v)
    }
  }
  return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, stats(v)]))
}

const ratio = (a?: Stats, b?: Stats, f: 'p50' | 'p95' = 'p50'): number | null => (a && b && b[f] > 0 ? Math.round((a[f] / b[f]) * 100) / 100 : null)

/** The median over rounds of each round's p50 ratio for `op` (rounds where both sides have samples), or null. */
function pairedRatio(baran: Array<Record<string, number[]>>, odht: Array<Record<string, number[]> | undefined>, op: string): number | null {
  const each = baran.flatMap((b, r) => {
    const x = ratio(stats(b[op] ?? []), stats(odht[r]?.[op] ?? []))
    return x === null ? [] : [x]
  })
  return each.length === 0 ? null : Math.round((stats(each) as Stats).p50 * 100) / 100
}

/** Compared operations and the goal of each (Baran p50 ≤ goal × OpenDHT p50). */
const GOALS: Array<[string, number]> = [
  ['get.first', 1],
  ['get', 1.5],
  ['put', 1.5],
  ['listen.push', 1.5],
]
const OPS = ['put', 'get.first', 'get', 'get.missing', 'listen.push', 'listen.putDone']
/**
 * The least each goal's operation can take on Baran's stack in transport alone (hop-floor.ts, same run): a first
 * value is one round trip to an idle peer; a full get and a put ask the `replication` closest at once (the fan-out);
 * a push is two one-way hops through idle threads (putter → storer → watcher), one round trip's worth.
 */
// Baran's requests travel by datagram (the default) or on libp2p streams (--streams-only): the floor is that path's.
const hop = (r: { udpRttMs: number; libp2pRttMs: number }): number => (UDP ? r.udpRttMs : r.libp2pRttMs)
const TRANSPORT_FLOOR: Record<string, (f: HopFloor) => number> = {
  'get.first': (f) => hop(f.idle),
  get: (f) => hop(f.fanOut),
  put: (f) => hop(f.fanOut),
  'listen.push': (f) => hop(f.idle),
}

async function main(): Promise<void> {
  const per = Math.max(1, Math.ceil(ITER / ROUNDS))
  const conditions = {
    nodesPerSide: NODES,
    rounds: ROUNDS,
    operationsPerRound: per,
    warmUp: `before every round, on both sides: each node puts one value, then ${WARM_ROUNDS} rounds of one get per node (all nodes at once)`,
    baranLayouts: MODES.map((m) => `${m}: ${LAYOUT[m]}`),
    baranRpc: UDP ? 'requests and replies in UDP datagrams (udpRpc, the default), the libp2p stream for what does not fit one' : 'libp2p streams only (--streams-only)',
    opendhtLayout: `${NODES} DhtRunner in one python3 process, each with its own C++ threads, in a network namespace with only lo (when permitted)`,
    replication: REPLICATION,
    valueBytes: VALUE_BYTES,
    clocks: {
      put: 'from the call until done, lookup included on both sides (Baran waitForLookup; OpenDHT blocking put)',
      'get.first': 'from the call to the first value of the full get (Baran onEntry; OpenDHT first get callback)',
      get: 'from the call to the end of a full get (Baran quorum 8; OpenDHT done_cb)',
      'get.missing': 'from the call to the end of a get of a key nobody has (both: a whole search)',
      'listen.push': "from the start of the put to the watcher's callback (watcher subscribed before)",
    },
    machine: 'see the runner entry (cores, load); the sides take turns, never at the same time',
  }
  const result: Record<string, unknown> = { headline: '', bench: 'discovery-vs-opendht', conditions, node: process.version, nodes: NODES, iterations: ITER, rounds: ROUNDS, replication: REPLICATION, valueBytes: VALUE_BYTES }
  const missing = ensureOpenDht()
  if (missing !== undefined) say(`OpenDHT side not measured: ${missing} — reporting the Baran side only`)
  // The sides take turns, round after round (never at the same time), so a change in the machine's load falls
  // on both: OpenDHT's nodes run in a fresh process each round (during the first layout's rounds) while Baran's wait.
  // Each round's samples apart: pooled for the p50s, and a round's ratio pairs the two turns taken one after the other.
  const odhtByRound: Array<Record<string, number[]> | undefined> = []
  const baranByRound: Partial<Record<Mode, Array<Record<string, number[]>>>> = {}
  const rounds: Array<Record<string, unknown>> = []
  const byMode: Partial<Record<Mode, Record<string, Stats | undefined>>> = {}
  for (const [m, mode] of MODES.entries()) {
    say(`Baran layout ${mode} (${LAYOUT[mode]}): starting ${NODES} nodes`)
    const cluster = mode === 'threads' ? await threadedCluster(NODES, { replication: REPLICATION, udpRpc: UDP }) : await inProcessCluster(NODES, { replication: REPLICATION, udpRpc: UDP })
    const baranRounds: Array<Record<string, number[]>> = []
    baranByRound[mode] = baranRounds
    try {
      for (let r = 0; r < ROUNDS; r++) {
        if (m === 0 && missing === undefined) {
          say(`round ${r + 1}/${ROUNDS}: OpenDHT`)
          const odht = await runOpenDht(per)
          if (odht.samples === undefined) say(`OpenDHT round ${r + 1} failed: ${String(odht.info.error)}`)
          odhtByRound[r] = odht.samples
          rounds.push({ side: 'opendht', round: r + 1, ...odht.info })
        }
        say(`round ${r + 1}/${ROUNDS}: Baran (${mode})`)
        const warm = await warmUp(cluster)
        const measured = await measureBaran(cluster, per)
        baranRounds[r] = measured.samples
        rounds.push({ side: `baran.${mode}`, round: r + 1, ...warm, failures: measured.failures })
      }
    } finally {
      await cluster.stop()
    }
    const b = pooledStats(baranRounds)
    byMode[mode] = b
    result[`baran.${mode}`] = { layout: LAYOUT[mode], ...b, setup: cluster.setup }
  }
  const o = pooledStats(odhtByRound)
  const measured = Object.keys(o).length > 0
  result.opendht = measured ? o : { error: missing ?? 'no OpenDHT samples' }
  // The transport under a hop and under a fan-out on each side, in the same run: Baran cannot answer faster.
  say('hop floor: round trips over UDP and over libp2p streams, thread to thread, to one peer and to several at once')
  // A floor that could not be measured leaves the comparison above standing, with the reason.
  // The fan-out: as many peers at once as a full get or a put asks here (the replication, or every other node).
  const floor = await hopFloor({ fanOut: Math.min(REPLICATION, NODES - 1) }).catch((e: unknown) => ({ error: String(e) }))
  const firstValue = o['get.first']?.p50
  // The idle round trip is the one a get meets: each asks peers that were not talking a moment before.
  const floorRatio = firstValue && 'idle' in floor ? Math.round((floor.idle.libp2pRttMs / firstValue) * 100) / 100 : null
  const fullGet = o.get?.p50
  const fanOutRatio = fullGet && 'fanOut' in floor ? Math.round((floor.fanOut.libp2pRttMs / fullGet) * 100) / 100 : null
  result.hopFloor = {
    ...floor,
    idleLibp2pRttOverOpenDhtFirstValue: floorRatio,
    fanOutLibp2pOverOpenDhtGet: fanOutRatio,
    note: 'p50 round trip of one 64-byte frame between worker threads, back to back (busy) or each after a pause (idle), and to the replication’s number of idle threads at once until the last echo (fanOut): over UDP (OpenDHT’s transport) and over libp2p streams on discovery’s stack (TCP, noise, yamux: Baran’s rpc links); a Baran operation needs at least its transport floor, plus its own work',
  }
  // What a pause costs memory-bound code on this machine: why threads that were idle run slower (both sides).
  say('cold cache: a memory walk and an arithmetic loop, hot and after pauses')
  const cold = await coldCache()
  result.coldCache = cold
  const ratios: Record<string, unknown> = {}
  const paired: Record<string, unknown> = {}
  const goals: Record<string, unknown> = {}
  for (const mode of MODES) {
    const b = byMode[mode] ?? {}
    if (!measured) continue
    ratios[mode] = Object.fromEntries(OPS.flatMap((k) => [[`${k}.p50`, ratio(b[k], o[k])], [`${k}.p95`, ratio(b[k], o[k], 'p95')]]))
    paired[mode] = Object.fromEntries(OPS.map((k) => [`${k}.p50`, pairedRatio(baranByRound[mode] ?? [], odhtByRound, k)]))
    goals[mode] = Object.fromEntries(
      GOALS.map(([k, g]) => {
        // Met only if both the pooled ratio and the median of the rounds' ratios are within the goal.
        const pooled = ratio(b[k], o[k])
        const byRound = (paired[mode] as Record<string, number | null>)[`${k}.p50`] ?? null
        const x = pooled === null || byRound === null ? pooled : Math.max(pooled, byRound)
        // Can the goal be met at all here: is the goal's time (g × OpenDHT's p50) above Baran's transport floor?
        const floorMs = 'idle' in floor ? (TRANSPORT_FLOOR[k]?.(floor) ?? null) : null
        const goalMs = o[k] ? Math.round(g * (o[k] as Stats).p50 * 1000) / 1000 : null
        const reachable = floorMs === null || goalMs === null ? null : floorMs <= goalMs
        return [`${k}.p50 ≤ ${g}× OpenDHT`, { ratio: x, pooled, byRound, met: x !== null && x <= g, goalMs, transportFloorMs: floorMs, reachable }]
      }),
    )
  }
  result.ratios = measured ? ratios : null
  result.ratiosByRound = measured ? { note: "median over rounds of each round's Baran p50 / OpenDHT p50 (the two turns of a round run one after the other)", ...paired } : null
  result.goals = measured ? goals : `not evaluated: ${missing ?? 'no OpenDHT samples'}`
  result.rounds = rounds
  const head = MODES[0] as Mode
  const headRatios = (ratios[head] ?? {}) as Record<string, number | null>
  const headPaired = (paired[head] ?? {}) as Record<string, number | null>
  const fmt = (k: string) => `${k} ${headRatios[`${k}.p50`] ?? '—'}× (by round ${headPaired[`${k}.p50`] ?? '—'}×)`
  const failed = rounds.map((r) => JSON.stringify(r.failures ?? r.error ?? {})).join('; ')
  result.headline = measured
    ? `Baran/OpenDHT p50, ${NODES} nodes each, ${LAYOUT[head]}, its rpc ${UDP ? 'in UDP datagrams' : 'on libp2p streams only'}; ${ROUNDS} round(s) × ${per} ops, warm-up of ${WARM_ROUNDS} get rounds per side per round: ${['get.first', 'get', 'put', 'listen.push', 'get.missing'].map(fmt).join(', ')}; goals met: ${Object.entries((goals[head] ?? {}) as Record<string, { met: boolean; reachable: boolean | null }>).map(([k, v]) => `${k.split(' ')[0]} ${v.met ? 'yes' : v.reachable === false ? 'no (under the transport floor)' : 'no'}`).join(', ')}; failures by round: ${failed}; ${'idle' in floor ? `one libp2p round trip to an idle thread alone: ${floor.idle.libp2pRttMs} ms (${floorRatio}× OpenDHT's whole first-value get; over UDP ${floor.idle.udpRttMs} ms); ${floor.fanOut.peers} at once, until the last: ${floor.fanOut.libp2pRttMs} ms (${fanOutRatio}× OpenDHT's whole full get; over UDP ${floor.fanOut.udpRttMs} ms)` : `hop floor not measured: ${floor.error}`}; on this machine memory read after a ${cold.factorAfterMs} ms pause costs ${cold.walkFactor}× a hot read (arithmetic ${cold.loopFactor}×): what an idle thread's next message pays, more the more memory its path touches`
    : `Baran only (${LAYOUT[head]}, ${NODES} nodes): OpenDHT not measured (${missing ?? 'no samples'})`
  // A table for people on stderr; one JSON line on stdout (`npm run bench` keeps the last JSON line).
  say(String(result.headline))
  for (const mode of MODES) {
    const b = byMode[mode] ?? {}
    say(`Baran (${LAYOUT[mode]}) vs OpenDHT, ms p50 / p95:`)
    for (const k of [...OPS, 'get.quorum1', 'get.quorum3', 'listen.push.presence']) {
      const f = (x?: Stats) => (x ? `${x.p50} / ${x.p95}` : '—')
      say(`  ${k.padEnd(22)} baran ${f(b[k]).padEnd(18)} opendht ${f(o[k]).padEnd(18)} ratio p50 ${ratio(b[k], o[k]) ?? '—'}`)
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

await main()
process.exit(0)
