/**
 * A lab peer: one transport host (throwaway account + device) that stays up and takes commands as
 * JSON lines on stdin, printing JSON lines like packages/transport/scripts/host.ts ("ready",
 * "addresses", "connection", "envelope", "sent", "send-failed"). The NAT lab uses it where a host
 * must send, then stay up to see what DCUtR does, then send again.
 *
 *   npx node --conditions=@baran/source src/peer.ts [--listen <ma>]... [--relay <ma>]... [--no-webrtc] [--no-upnp] [--upnp-recheck-ms <ms>]
 *   stdin: {"cmd":"send","peerId":"12D3…","addrs":["/ip4/…"],"count":10,"bytes":16,"intervalMs":0}
 *
 * Envelopes are de-duplicated by id as the outbox does ("envelope" lines carry `duplicate: true`
 * for a resend, answered 'duplicate'); "upgrade" lines report each relayed → direct attempt; the
 * timed lines carry `t` (ms since the epoch).
 *          {"cmd":"connections"}   → {"event":"connections","list":[…]}
 *          {"cmd":"upnp"}          → {"event":"upnp","status":{…},"addrs":[…]} (the host's UpnpStatus)
 *          {"cmd":"rtt","peerId":…,"addrs":[…],"rounds":20,"warmup":5,"bytes":16}
 *                                  → {"event":"rtt",…RttComparison} (Baran vs a raw echo stream, lib/echo.ts)
 *          {"cmd":"stop"}
 */
import { createInterface } from 'node:readline'
import { createTransportHost, throwawayCredentials } from '@baran/transport'
import { compareRtt, handleEcho } from './lib/echo.ts'

const argv = process.argv.slice(2)
const listen: string[] = []
const relays: string[] = []
let webrtc = true
let upnp = true
let upnpRecheckMs: number | undefined
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--listen') listen.push(argv[++i] ?? '')
  else if (a === '--relay') relays.push(argv[++i] ?? '')
  else if (a === '--no-webrtc') webrtc = false
  else if (a === '--no-upnp') upnp = false
  else if (a === '--upnp-recheck-ms') upnpRecheckMs = Number(argv[++i])
  else throw new Error(`unknown argument: ${a}`)
}

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const host = await createTransportHost({
  listen: listen.length > 0 ? listen : undefined,
  relays,
  webrtc,
  upnp: upnp && upnpRecheckMs !== undefined ? { recheckMs: upnpRecheckMs } : upnp,
})

const throwaway = throwawayCredentials(host.peerId, { name: 'natlab-peer' })
host.setCredentials(throwaway)
const now = Date.now()
host.onAddresses((addrs) => print({ event: 'addresses', addrs }))
host.onConnection((evt) => print({ event: 'connection', t: Date.now(), ...evt }))
host.onUpgrade((evt) => print({ event: 'upgrade', t: Date.now(), ...evt }))
await handleEcho(host)
const seen = new Set<string>()
/**
 * The envelope lines are for the test, not part of a message's round trip: they are written together every 20 ms.
 * One write per envelope woke the lab's harness to parse a line during every timed round trip, on the same 2 cores
 * as the peers, and the raw echo it is compared with writes nothing (the RTT ratio read 1.32 with a line each, 1.25
 * without, same lab). `t` is still the time of receipt.
 */
let envelopeLines: object[] = []
const flushEnvelopeLines = () => {
  if (envelopeLines.length > 0) process.stdout.write(envelopeLines.map((l) => `${JSON.stringify(l)}\n`).join(''))
  envelopeLines = []
}
host.onEnvelope((env, from) => {
  const duplicate = seen.has(env.id)
  seen.add(env.id)
  if (envelopeLines.length === 0) setTimeout(flushEnvelopeLines, 20)
  envelopeLines.push({ event: 'envelope', t: Date.now(), id: env.id, bytes: env.payload.length, from: from.peerId, connection: from.connection, duplicate })
  return duplicate ? 'duplicate' : 'stored'
})
print({ event: 'ready', peerId: host.peerId, accountId: throwaway.accountId, addrs: host.multiaddrs(), iceServers: host.iceServers })

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await host.stop()
  flushEnvelopeLines()
  process.exit(0)
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)

interface Command {
  cmd?: string
  peerId?: string
  addrs?: string[]
  count?: number
  bytes?: number
  intervalMs?: number
  rounds?: number
  warmup?: number
}

let seq = 0
async function handle(c: Command): Promise<void> {
  if (c.cmd === 'send') {
    const count = Math.min(Math.max(1, Number(c.count ?? 1)), 100_000)
    const payload = new Uint8Array(Math.min(Math.max(1, Number(c.bytes ?? 16)), 65_536)).fill(0x61)
    const intervalMs = Math.min(Math.max(0, Number(c.intervalMs ?? 0)), 10_000)
    for (let i = 0; i < count; i++) {
      if (i > 0 && intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs))
      try {
        const id = `peer-${now}-${seq++}`
        const t0 = performance.now()
        const r = await host.send({ peerId: String(c.peerId), addrs: c.addrs ?? [] }, { id, payload })
        // wallMs: the whole send, a dial when there is no connection yet included (rtt: the envelope's round trip)
        print({ event: 'sent', t: Date.now(), i, id, ...r, wallMs: performance.now() - t0 })
      } catch (err) {
        print({ event: 'send-failed', i, code: (err as { code?: string }).code, message: (err as Error).message })
      }
    }
    print({ event: 'send-done', count })
  } else if (c.cmd === 'rtt') {
    try {
      const r = await compareRtt(host, {
        peerId: String(c.peerId),
        addrs: c.addrs ?? [],
        rounds: Math.min(Math.max(1, Number(c.rounds ?? 20)), 10_000),
        warmup: Math.min(Math.max(1, Number(c.warmup ?? 5)), 1_000),
        payloadBytes: Math.min(Math.max(1, Number(c.bytes ?? 16)), 65_536),
        nextId: () => `peer-${now}-${seq++}`,
      })
      print({ event: 'rtt', t: Date.now(), ...r })
    } catch (err) {
      print({ event: 'rtt-failed', name: (err as Error).name, message: (err as Error).message })
    }
  } else if (c.cmd === 'connections') {
    print({ event: 'connections', list: host.connections() })
  } else if (c.cmd === 'upnp') {
    print({ event: 'upnp', t: Date.now(), status: host.upnp() ?? null, addrs: host.multiaddrs() })
  } else if (c.cmd === 'stop') {
    await stop()
  } else {
    print({ event: 'error', message: `unknown command: ${String(c.cmd)}` })
  }
}

// one command at a time, in order
let queue = Promise.resolve()
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return
  queue = queue.then(async () => {
    let c: Command
    try {
      c = JSON.parse(line) as Command
    } catch {
      print({ event: 'error', message: 'not JSON' })
      return
    }
    await handle(c)
  })
})
