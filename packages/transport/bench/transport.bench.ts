/**
 * Transport benchmark, all on loopback in one run, printed as JSON:
 * - message RTT (send → ACK) over /baran/msg/1.0.0 vs a raw libp2p stream echo vs a raw TCP echo
 * - throughput (MB/s) of envelopes vs a raw libp2p stream vs a raw TCP socket
 * - time to the first message to a new peer (dial + Noise + Yamux + HELLO exchange + ACK)
 *
 * Run: npx node --conditions=@baran/source bench/transport.bench.ts [--quick]
 */
import net from 'node:net'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTransportHost, type TransportHost } from '../src/index.ts'
import { credentialsFor, makeDevice } from '../test/fixtures.ts'

const quick = process.argv.includes('--quick')
const RTT_ROUNDS = quick ? 300 : 2000
const WARMUP = quick ? 100 : 500
const PASSES = 3
const MSG_BYTES = 100
const TP_TOTAL = (quick ? 16 : 64) * 1024 * 1024
const TP_CHUNK = 128 * 1024
const TP_IN_FLIGHT = 16
const FIRST_MSG_ROUNDS = quick ? 5 : 20
const ECHO = '/baran/bench/echo/1.0.0'
const SINK = '/baran/bench/sink/1.0.0'
let seq = 0

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  const round = (x: number) => Math.round(x * 1000) / 1000
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)), mean: round(s.reduce((a, b) => a + b, 0) / s.length) }
}

async function host(): Promise<TransportHost> {
  const h = await createTransportHost({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  h.setCredentials(credentialsFor(makeDevice(), h.peerId))
  h.onEnvelope(async () => 'stored')
  return h
}

/** Reads from a libp2p stream until `n` more bytes arrived. */
function reader(stream: Stream) {
  let got = 0
  let want = 0
  let wake: (() => void) | undefined
  stream.addEventListener('message', (evt) => {
    got += evt.data.byteLength
    if (wake !== undefined && got >= want) {
      const w = wake
      wake = undefined
      w()
    }
  })
  return (n: number) =>
    new Promise<void>((resolve) => {
      want += n
      if (got >= want) resolve()
      else wake = resolve
    })
}

async function sendAll(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) {
    await new Promise<void>((resolve) => stream.addEventListener('drain', () => resolve(), { once: true }))
  }
}

async function protocolRtt(a: TransportHost, b: TransportHost, rounds: number): Promise<number[]> {
  const target = { peerId: b.peerId, addrs: b.multiaddrs() }
  const payload = new Uint8Array(MSG_BYTES)
  const out: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    await a.send(target, { id: `rtt-${seq++}`, payload })
    out.push(performance.now() - t0)
  }
  return out
}

async function libp2pEchoRtt(a: TransportHost, b: TransportHost, rounds: number): Promise<number[]> {
  const stream = await a.libp2p.dialProtocol(multiaddr(b.multiaddrs()[0]!), ECHO)
  const read = reader(stream)
  // same bytes on the wire as an ENVELOPE frame of MSG_BYTES (length prefix, type, id)
  const msg = new Uint8Array(MSG_BYTES + 12)
  const out: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    stream.send(msg)
    await read(msg.length)
    out.push(performance.now() - t0)
  }
  await stream.close()
  return out
}

async function tcpServer(onData: (socket: net.Socket, chunk: Buffer) => void): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('data', (chunk) => onData(socket, chunk))
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return { port, close: () => server.close() }
}

async function tcpClient(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

async function tcpEchoRtt(rounds: number): Promise<number[]> {
  const server = await tcpServer((socket, chunk) => socket.write(chunk))
  const socket = await tcpClient(server.port)
  let got = 0
  let want = 0
  let wake: (() => void) | undefined
  socket.on('data', (c) => {
    got += c.length
    if (wake !== undefined && got >= want) {
      const w = wake
      wake = undefined
      w()
    }
  })
  const msg = Buffer.alloc(MSG_BYTES + 12)
  const out: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    want += msg.length
    const done = new Promise<void>((resolve) => {
      wake = resolve
    })
    socket.write(msg)
    await done
    out.push(performance.now() - t0)
  }
  socket.destroy()
  server.close()
  return out
}

/** MB/s of envelopes, TP_IN_FLIGHT at a time, each acknowledged. */
async function protocolThroughput(a: TransportHost, b: TransportHost, total: number): Promise<number> {
  const target = { peerId: b.peerId, addrs: b.multiaddrs() }
  const payload = new Uint8Array(TP_CHUNK)
  const count = total / TP_CHUNK
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: TP_IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++
        await a.send(target, { id: `tp-${seq++}-${i}`, payload }, { timeoutMs: 60_000 })
      }
    }),
  )
  return total / 1e6 / ((performance.now() - t0) / 1000)
}

function sinkHandler(stream: Stream): void {
  let got = 0
  stream.addEventListener('message', (evt) => {
    got += evt.data.byteLength
    if (got >= TP_TOTAL) stream.send(Uint8Array.of(1))
  })
}

async function libp2pThroughput(a: TransportHost, b: TransportHost): Promise<number> {
  const stream = await a.libp2p.dialProtocol(multiaddr(b.multiaddrs()[0]!), SINK)
  const read = reader(stream)
  const chunk = new Uint8Array(TP_CHUNK)
  const t0 = performance.now()
  for (let sent = 0; sent < TP_TOTAL; sent += TP_CHUNK) await sendAll(stream, chunk)
  await read(1)
  const mbs = TP_TOTAL / 1e6 / ((performance.now() - t0) / 1000)
  await stream.close()
  return mbs
}

async function tcpThroughput(): Promise<number> {
  let got = 0
  const server = await tcpServer((socket, chunk) => {
    got += chunk.length
    if (got >= TP_TOTAL) socket.write(Buffer.of(1))
  })
  const socket = await tcpClient(server.port)
  const done = new Promise<void>((resolve) => socket.once('data', () => resolve()))
  const chunk = Buffer.alloc(TP_CHUNK)
  const t0 = performance.now()
  for (let sent = 0; sent < TP_TOTAL; sent += TP_CHUNK) {
    if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once('drain', resolve))
  }
  await done
  const mbs = TP_TOTAL / 1e6 / ((performance.now() - t0) / 1000)
  socket.destroy()
  server.close()
  return mbs
}

/** ms from send() to ACK towards a peer never contacted before (hosts already started). */
async function firstMessage(): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < FIRST_MSG_ROUNDS; i++) {
    const a = await host()
    const b = await host()
    try {
      const t0 = performance.now()
      await a.send({ peerId: b.peerId, addrs: b.multiaddrs() }, { id: 'first', payload: new Uint8Array(MSG_BYTES) })
      out.push(performance.now() - t0)
    } finally {
      await a.stop()
      await b.stop()
    }
  }
  return out
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

async function main(): Promise<void> {
  const a = await host()
  const b = await host()
  try {
    await b.libp2p.handle(ECHO, (stream) => {
      stream.addEventListener('message', (evt) => stream.send(evt.data))
    })
    // warm every path up (JIT, yamux windows) before measuring anything
    await protocolRtt(a, b, WARMUP * 4)
    await libp2pEchoRtt(a, b, WARMUP * 4)
    await tcpEchoRtt(WARMUP * 4)
    // interleaved passes so a noisy moment on the 2-core machine does not hit only one kind
    const proto: number[] = []
    const raw: number[] = []
    const tcp: number[] = []
    for (let pass = 0; pass < PASSES; pass++) {
      proto.push(...(await protocolRtt(a, b, RTT_ROUNDS)))
      raw.push(...(await libp2pEchoRtt(a, b, RTT_ROUNDS)))
      tcp.push(...(await tcpEchoRtt(RTT_ROUNDS)))
    }
    const rtt = { protocol: stats(proto), libp2pStream: stats(raw), tcp: stats(tcp) }

    await b.libp2p.handle(SINK, sinkHandler)
    await protocolThroughput(a, b, TP_TOTAL / 4) // warm-up
    const tpRuns = { protocol: [] as number[], libp2pStream: [] as number[], tcp: [] as number[] }
    for (let pass = 0; pass < PASSES; pass++) {
      tpRuns.protocol.push(await protocolThroughput(a, b, TP_TOTAL))
      tpRuns.libp2pStream.push(await libp2pThroughput(a, b))
      tpRuns.tcp.push(await tcpThroughput())
    }
    const tp = { protocol: median(tpRuns.protocol), libp2pStream: median(tpRuns.libp2pStream), tcp: median(tpRuns.tcp) }
    const first = stats(await firstMessage())
    const r2 = (x: number) => Math.round(x * 100) / 100
    const result = {
      bench: 'transport',
      node: process.version,
      quick,
      messageBytes: MSG_BYTES,
      rttMs: rtt,
      rttRatios: {
        protocolVsLibp2pStreamP50: r2(rtt.protocol.p50 / rtt.libp2pStream.p50),
        protocolVsLibp2pStreamP99: r2(rtt.protocol.p99 / rtt.libp2pStream.p99),
        protocolVsTcpP50: r2(rtt.protocol.p50 / rtt.tcp.p50),
        libp2pStreamVsTcpP50: r2(rtt.libp2pStream.p50 / rtt.tcp.p50),
      },
      goal: { protocolRttAtMost: '1.2x raw libp2p stream (p50)', met: rtt.protocol.p50 <= 1.2 * rtt.libp2pStream.p50 },
      throughputMBs: {
        totalMB: r2(TP_TOTAL / 1e6),
        envelopeBytes: TP_CHUNK,
        inFlight: TP_IN_FLIGHT,
        medianOf: PASSES,
        protocol: r2(tp.protocol),
        libp2pStream: r2(tp.libp2pStream),
        tcp: r2(tp.tcp),
        protocolVsLibp2pStream: r2(tp.protocol / tp.libp2pStream),
        protocolVsTcp: r2(tp.protocol / tp.tcp),
        runs: { protocol: tpRuns.protocol.map(r2), libp2pStream: tpRuns.libp2pStream.map(r2), tcp: tpRuns.tcp.map(r2) },
      },
      firstMessageMs: first,
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
  } finally {
    await a.stop()
    await b.stop()
  }
}

await main()
