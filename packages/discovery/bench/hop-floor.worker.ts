/**
 * One end of hop-floor.ts's round trips, in a worker thread of its own: an echo server, or the client that times
 * `frames` rounds of one 64-byte frame to each of its servers at once (one round in flight, each `gapMs` after the
 * last echo of the previous came back) after `warm` untimed rounds back to back. `kind` is `udp` (a datagram socket,
 * what OpenDHT's nodes talk over) or `libp2p` (one stream per server on discovery's stack: TCP, noise with one write
 * per message, coalesced yamux, as Baran's rpc links are). A server echoes until hop-floor.ts terminates its thread
 * (which closes its sockets).
 */
import dgram from 'node:dgram'
import { parentPort, workerData } from 'node:worker_threads'
import { noiseOneWrite, yamuxCoalesced } from '@baran/p2p'
import type { Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

interface Job {
  kind: 'udp' | 'libp2p'
  role: 'server' | 'client'
  /** the servers' UDP ports or libp2p addresses (client only) */
  ports?: number[]
  addrs?: string[]
  frames: number
  warm: number
  gapMs: number
}

const PROTOCOL = '/baran-bench/echo/1'
const job = workerData as Job
const port = parentPort!
const frame = new Uint8Array(64)

/**
 * Runs `sends` (one frame to each server) and times until `onReply` was called once per send, i.e. until the last
 * echo came back; goes again until every round was timed.
 */
function timeRounds(sends: Array<() => void>, setOnReply: (fn: () => void) => void): Promise<number[]> {
  const ms: number[] = []
  let n = 0
  let echoes = 0
  let t0 = 0
  return new Promise((resolve) => {
    const go = (): void => {
      echoes = 0
      t0 = performance.now()
      for (const send of sends) send()
    }
    setOnReply(() => {
      if (++echoes < sends.length) return
      if (n++ >= job.warm) ms.push(performance.now() - t0)
      if (n === job.warm + job.frames) return resolve(ms)
      if (n < job.warm || job.gapMs === 0) go()
      else setTimeout(go, job.gapMs)
    })
    go()
  })
}

if (job.kind === 'udp') {
  const sock = dgram.createSocket('udp4')
  if (job.role === 'server') {
    sock.on('message', (m, from) => sock.send(m, from.port, from.address))
    sock.bind(0, '127.0.0.1', () => port.postMessage({ port: sock.address().port }))
  } else {
    const ms = await timeRounds(
      job.ports!.map((p) => () => sock.send(frame, p, '127.0.0.1')),
      (fn) => sock.on('message', fn),
    )
    sock.close()
    port.postMessage({ ms })
  }
} else {
  const node = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noiseOneWrite()], streamMuxers: [yamuxCoalesced()] })
  await node.start()
  if (job.role === 'server') {
    await node.handle(PROTOCOL, (stream: Stream) => {
      stream.addEventListener('message', (e) => stream.send(e.data))
    })
    port.postMessage({ addr: node.getMultiaddrs()[0]!.toString() })
  } else {
    const streams = await Promise.all(job.addrs!.map((a) => node.dialProtocol(multiaddr(a), PROTOCOL)))
    const ms = await timeRounds(
      streams.map((stream) => () => stream.send(frame)),
      (fn) => {
        for (const stream of streams) stream.addEventListener('message', fn)
      },
    )
    await node.stop()
    port.postMessage({ ms })
  }
}
