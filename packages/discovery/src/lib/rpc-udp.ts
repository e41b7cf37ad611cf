import { randomBytes, randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import { isIPv6 } from 'node:net'
import { ChaCha20Poly1305, newInstance } from '@chainsafe/as-chacha20poly1305'
import type { Logger } from './store.ts'

/**
 * The rpc's datagram path: request and reply bodies (rpc-frame.ts) in UDP datagrams, as OpenDHT
 * sends its messages, so that a request to a warm peer costs a datagram each way instead of a trip
 * through libp2p's stream, muxer and Noise session.
 *
 * No handshake of its own: a client asks for a session over its rpc stream to the peer (already
 * encrypted and bound to the peer's identity by libp2p's Noise), and the server answers with a
 * fresh random key, its session ID and its UDP port. A datagram that opens under that key came from
 * that peer; each direction numbers its datagrams, and a receiver takes each number once (a replay
 * window), so a captured datagram cannot be played again.
 *
 * A datagram: u8 direction (0 to the server, 1 to the client) | u32 the receiver's session ID |
 * u64 counter (as two u32) | the body sealed with ChaCha20-Poly1305 (nonce: direction, three zero
 * bytes, counter; the 13-byte header as associated data) | 16-byte tag.
 */

export const UDP_HEAD = 13
const TAG = 16
const KEY_BYTES = 32
/** The largest body sent in a datagram: with the header, tag and IP/UDP headers it fits IPv6's minimum MTU of 1280. */
export const MAX_UDP_BODY = 1_200
/**
 * Counters a receiver remembers: a datagram this far behind the newest is refused as a possible replay. Twice the
 * requests a link may have in flight (MAX_RPC_INFLIGHT), so reordering alone never trips it; 4 KiB a session.
 */
export const REPLAY_WINDOW = 512
/** Sessions one endpoint holds at most (each is one rpc stream's; a node has one or two per peer): 16 MiB of windows at most. */
export const MAX_UDP_SESSIONS = 4_096

export const TO_SERVER = 0
export const TO_CLIENT = 1

/** Takes each counter at most once, within a window behind the newest. */
export class ReplayWindow {
  readonly #seen = new Float64Array(REPLAY_WINDOW).fill(-1)
  #top = -1

  accept(counter: number): boolean {
    if (counter + REPLAY_WINDOW <= this.#top) return false
    const slot = counter % REPLAY_WINDOW
    if ((this.#seen[slot] as number) >= counter) return false
    this.#seen[slot] = counter
    if (counter > this.#top) this.#top = counter
    return true
  }
}

/** One side's half of a session: what it receives on `id` and where its datagrams go. */
export interface UdpSession {
  /** The ID datagrams to this side carry. */
  readonly id: number
  key: Buffer
  /** The direction this side receives (the other sends). */
  readonly receives: typeof TO_SERVER | typeof TO_CLIENT
  /** The peer's ID for this session and where to send: a client learns them from the offer; a server sends to the last source that authenticated. */
  remoteId: number
  host?: string
  port?: number
  sent: number
  readonly window: ReplayWindow
  /** The peer (libp2p ID) the session was made with. */
  readonly peer: string
  /**
   * A server takes datagrams only from this IP address: the one its peer's TCP connection comes from (its NAT may
   * give UDP another port, not another address). So its answers go nowhere the peer has not shown it is: a peer
   * cannot make it send to a third party by forging a datagram's source.
   */
  from?: string
  onBody(body: Uint8Array): void
}

export interface UdpStats {
  sent: number
  received: number
  /** Datagrams dropped, by why: too short, no such session, not from the session peer's address, did not open under its key, number already taken. */
  dropped: { short: number; session: number; address: number; auth: number; replay: number }
}

/** An IPv4 address as a dual-stack socket reports it (`::ffff:a.b.c.d`) is that IPv4 address. */
const plainIp = (ip: string): string => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip)

/**
 * The ChaCha20-Poly1305 libp2p's Noise uses for messages under 1,200 bytes (WebAssembly, one instance per thread):
 * on a thread that was idle it seals a datagram in about half the time node:crypto takes (which sets up a fresh
 * OpenSSL context for every message).
 */
const aead = new ChaCha20Poly1305(newInstance())

/** Sends go straight out: the address is always an IP, and dns.lookup would defer each datagram to the next tick. */
const ipLookup = (address: string, _opts: unknown, done: (err: Error | null, address: string, family: number) => void): void => done(null, address, isIPv6(address) ? 6 : 4)

/** The nonce of a datagram, from its header: direction, three zero bytes, the counter. */
function nonceOf(head: Uint8Array): Uint8Array {
  const n = new Uint8Array(12)
  n[0] = head[0] as number
  n.set(head.subarray(5, UDP_HEAD), 4)
  return n
}

/** One UDP socket that serves sessions (as a server) and holds this node's own (as a client). */
export class UdpEndpoint {
  readonly #socket: dgram.Socket
  readonly #sessions = new Map<number, UdpSession>()
  readonly #log?: Logger
  readonly stats: UdpStats = { sent: 0, received: 0, dropped: { short: 0, session: 0, address: 0, auth: 0, replay: 0 } }
  #closed = false

  private constructor(socket: dgram.Socket, log?: Logger) {
    this.#socket = socket
    this.#log = log
    socket.on('message', (msg, from) => this.#receive(msg, from.address, from.port))
    socket.on('error', (err) => this.#log?.debug({ err }, 'udp rpc socket error'))
  }

  /** Bind a socket on `host` (an IP address) and `port` (0: any free port). */
  static bind(host: string, port: number, log?: Logger): Promise<UdpEndpoint> {
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: ipLookup as never })
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        socket.unref() // the node's libp2p listener keeps the process up, not this
        resolve(new UdpEndpoint(socket, log))
      })
    })
  }

  get port(): number {
    return this.#socket.address().port
  }

  get sessions(): number {
    return this.#sessions.size
  }

  /** A new session for a peer with a fresh key (undefined when this endpoint holds as many as it may). */
  open(peer: string, receives: UdpSession['receives'], onBody: (body: Uint8Array) => void, opts: { key?: Buffer; from?: string } = {}): UdpSession | undefined {
    if (this.#closed || this.#sessions.size >= MAX_UDP_SESSIONS) return undefined
    let id = randomInt(1, 0xffff_ffff)
    while (this.#sessions.has(id)) id = randomInt(1, 0xffff_ffff)
    const session: UdpSession = { id, key: opts.key ?? randomBytes(KEY_BYTES), receives, remoteId: 0, sent: 0, window: new ReplayWindow(), peer, onBody, ...(opts.from === undefined ? {} : { from: opts.from }) }
    this.#sessions.set(id, session)
    return session
  }

  close(session: UdpSession): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id)
  }

  /** Seal a body to the session's peer; false when it cannot go (no address yet, too large, closed). */
  send(session: UdpSession, body: Uint8Array): boolean {
    if (this.#closed || session.host === undefined || session.port === undefined || body.length > MAX_UDP_BODY) return false
    const direction = session.receives === TO_SERVER ? TO_CLIENT : TO_SERVER
    const counter = session.sent++
    const out = Buffer.allocUnsafe(UDP_HEAD + body.length + TAG)
    out[0] = direction
    out.writeUInt32BE(session.remoteId, 1)
    out.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 5)
    out.writeUInt32BE(counter >>> 0, 9)
    const head = out.subarray(0, UDP_HEAD)
    aead.seal(session.key, nonceOf(head), body, head, out.subarray(UDP_HEAD))
    try {
      this.#socket.send(out, session.port, session.host, (err) => {
        if (err) this.#log?.debug({ err, peer: session.peer }, 'udp rpc datagram not sent')
      })
    } catch (err) {
      // (An address this socket cannot reach, such as IPv4 from an IPv6-only one: the caller keeps to the stream.)
      this.#log?.debug({ err, peer: session.peer }, 'udp rpc datagram not sent')
      return false
    }
    this.stats.sent++
    return true
  }

  #receive(msg: Buffer, host: string, port: number): void {
    if (msg.length < UDP_HEAD + TAG) {
      this.stats.dropped.short++
      return
    }
    const direction = msg[0] as number
    const session = this.#sessions.get(msg.readUInt32BE(1))
    if (session === undefined || session.receives !== direction) {
      this.stats.dropped.session++
      return
    }
    if (session.from !== undefined && plainIp(host) !== plainIp(session.from)) {
      this.stats.dropped.address++
      return
    }
    const counter = msg.readUInt32BE(5) * 0x1_0000_0000 + msg.readUInt32BE(9)
    const head = msg.subarray(0, UDP_HEAD)
    const body = aead.open(session.key, nonceOf(head), msg.subarray(UDP_HEAD), head)
    if (body === null) {
      this.stats.dropped.auth++
      return
    }
    // Only a datagram that opened takes its number (else anyone could fill the window).
    if (!session.window.accept(counter)) {
      this.stats.dropped.replay++
      return
    }
    this.stats.received++
    // A server answers where the client is now (its NAT may have moved it); a client sends only to the address it was offered.
    if (session.receives === TO_SERVER) {
      session.host = host
      session.port = port
    }
    try {
      session.onBody(body)
    } catch (err) {
      this.#log?.debug({ err, peer: session.peer }, 'udp rpc datagram not handled')
    }
  }

  stop(): void {
    if (this.#closed) return
    this.#closed = true
    this.#sessions.clear()
    this.#socket.close()
  }
}
