/**
 * What one DHT hop costs in transport alone, under everything else a lookup does: round trips of one 64-byte frame
 * between worker threads (each its own event loop, as in the opendht bench's headline layout), over UDP (OpenDHT's
 * transport) and over libp2p streams on discovery's stack (Baran's rpc). Three ways: `busy`, one peer, frames back to
 * back; `idle`, one peer, each frame IDLE_GAP_MS after the last came back, as a DHT peer is asked now and then (a
 * thread that has slept wakes more slowly); `fanOut`, as `idle` but one frame to each of FAN_OUT peers at once, timed
 * until the last echo: what a full get or a put's PUTs (to the `replication` closest) cost in transport alone. The
 * kinds take turns, round by round; each figure is the median over rounds of each round's p50.
 */
import { Worker } from 'node:worker_threads'
import { stats } from './lib.ts'

export interface RoundTrips {
  /** Round-trip p50 (ms): a datagram echoed over UDP, and a frame echoed over one libp2p stream. */
  udpRttMs: number
  libp2pRttMs: number
  /** libp2pRttMs / udpRttMs */
  libp2pOverUdp: number
  frames: number
  rounds: Array<{ udpRttMs: number; libp2pRttMs: number }>
}

export interface HopFloor {
  busy: RoundTrips
  idle: RoundTrips & { gapMs: number }
  /** As idle, one frame to each of `peers` threads at once, timed until the last echo. */
  fanOut: RoundTrips & { gapMs: number; peers: number }
}

/** The pause before each frame of the `idle` and `fanOut` runs. */
const IDLE_GAP_MS = 10
/** Peers of the fan-out unless told: the opendht bench's replication, the peers a full get or a put asks at once. */
const FAN_OUT = 8
const WORKER = new URL('./hop-floor.worker.ts', import.meta.url)
/** The p50 of some ms figures (lib.ts's nearest rank, rounded to µs). */
const p50 = (xs: number[]) => stats(xs)!.p50

function start(workerData: object): Worker {
  // As cluster.ts's node threads (the runner's own flags, e.g. --expose-gc, are refused in a worker).
  return new Worker(WORKER, { workerData, execArgv: ['--conditions=@baran/source'] })
}

function next<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
}

/** p50 of one run of `frames` rounds of `kind`, each a frame to each of `peers` echo servers at once. */
async function once(kind: 'udp' | 'libp2p', frames: number, warm: number, gapMs: number, peers: number): Promise<number> {
  const servers: Worker[] = []
  try {
    for (let i = 0; i < peers; i++) servers.push(start({ kind, role: 'server', frames, warm, gapMs }))
    const where = await Promise.all(servers.map((s) => next<{ port?: number; addr?: string }>(s)))
    const client = start({ kind, role: 'client', frames, warm, gapMs, ports: where.map((w) => w.port), addrs: where.map((w) => w.addr) })
    try {
      const { ms } = await next<{ ms: number[] }>(client)
      return p50(ms)
    } finally {
      await client.terminate()
    }
  } finally {
    await Promise.all(servers.map((s) => s.terminate()))
  }
}

async function roundTrips(rounds: number, frames: number, warm: number, gapMs: number, peers = 1): Promise<RoundTrips> {
  const out: RoundTrips['rounds'] = []
  for (let r = 0; r < rounds; r++) {
    out.push({ udpRttMs: await once('udp', frames, warm, gapMs, peers), libp2pRttMs: await once('libp2p', frames, warm, gapMs, peers) })
  }
  const udp = p50(out.map((x) => x.udpRttMs))
  const libp2p = p50(out.map((x) => x.libp2pRttMs))
  return { udpRttMs: udp, libp2pRttMs: libp2p, libp2pOverUdp: Math.round((libp2p / udp) * 100) / 100, frames, rounds: out }
}

export async function hopFloor(opts: { rounds?: number; fanOut?: number } = {}): Promise<HopFloor> {
  const rounds = opts.rounds ?? 3
  const peers = opts.fanOut ?? FAN_OUT
  const busy = await roundTrips(rounds, 2000, 300, 0)
  const idle = await roundTrips(rounds, 300, 300, IDLE_GAP_MS)
  const fanOut = await roundTrips(rounds, 300, 300, IDLE_GAP_MS, peers)
  return { busy, idle: { ...idle, gapMs: IDLE_GAP_MS }, fanOut: { ...fanOut, gapMs: IDLE_GAP_MS, peers } }
}
