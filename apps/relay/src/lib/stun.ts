/**
 * The relay's STUN server (RFC 8489 Binding): tells a node behind a NAT the public ip:port its UDP
 * socket is seen at, which ICE (WebRTC) turns into a server-reflexive candidate for hole punching.
 * It runs in the relay's process on @msimerson/stun (a maintained pure-JS STUN codec; coturn would
 * be a second daemon to install, configure and supervise, and TURN's role is the circuit relay's).
 * It answers Binding requests only; a Binding response is no larger than twice a request, so it
 * cannot amplify floods, and it keeps no state per client.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { createRequire } from 'node:module'
import { isIPv6 } from 'node:net'
import { RelayListenError } from './errors.ts'
import type { Logger } from './logger.ts'

/** The parts of @msimerson/stun used here (the package ships no types). */
interface StunMessage {
  type: number
  transactionId: Buffer
}
interface StunLib {
  createServer(opts: { type: 'udp4' | 'udp6'; socket: Socket }): StunServerLike
  createMessage(type: number, transactionId: Buffer): { addXorAddress(ip: string, port: number): void; addSoftware(s: string): void; addFingerprint(): void }
  constants: { STUN_BINDING_REQUEST: number; STUN_BINDING_RESPONSE: number; STUN_EVENT_BINDING_REQUEST: string }
}
interface StunServerLike {
  on(event: string, cb: (...args: never[]) => void): void
  send(msg: unknown, port: number, address: string): boolean
  close(): void
}

const stun = createRequire(import.meta.url)('@msimerson/stun') as StunLib

export interface StunServerInit {
  /** The IP address to bind (the relay's public one; 0.0.0.0 / :: for all). */
  host: string
  /** UDP port. @default 3478 */
  port: number
  log?: Logger
}

export interface StunService {
  /** `stun:<host>:<port>` as nodes configure it. */
  readonly url: string
  readonly port: number
  /** Binding requests answered so far. */
  readonly answered: number
  close(): Promise<void>
}

/** Binds the UDP socket and answers Binding requests; throws RelayListenError when the port is taken. */
export async function startStunServer(init: StunServerInit): Promise<StunService> {
  const v6 = isIPv6(init.host)
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4' })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(init.port, init.host, () => {
      socket.off('error', reject)
      resolve()
    })
  }).catch((err: unknown) => {
    socket.close()
    throw new RelayListenError(`STUN cannot listen on udp ${init.host}:${init.port}: ${(err as Error).message}`, { cause: err })
  })
  const server = stun.createServer({ type: v6 ? 'udp6' : 'udp4', socket })
  let answered = 0
  const { STUN_BINDING_REQUEST, STUN_BINDING_RESPONSE, STUN_EVENT_BINDING_REQUEST } = stun.constants
  server.on(STUN_EVENT_BINDING_REQUEST, (req: StunMessage, rinfo: RemoteInfo) => {
    if (req.type !== STUN_BINDING_REQUEST) return
    const res = stun.createMessage(STUN_BINDING_RESPONSE, req.transactionId)
    res.addXorAddress(rinfo.address, rinfo.port)
    res.addFingerprint()
    server.send(res, rinfo.port, rinfo.address)
    answered++
  })
  // malformed packets and error responses: dropped (an 'error' without a listener would crash the relay)
  server.on('error', (err: Error) => init.log?.debug({ err: err.message }, 'STUN: bad packet dropped'))
  socket.on('error', (err) => init.log?.warn({ err: err.message }, 'STUN socket error'))
  const port = socket.address().port
  const url = `stun:${v6 ? `[${init.host}]` : init.host}:${port}`
  init.log?.info({ url }, 'STUN listening')
  let closing: Promise<void> | undefined
  return {
    url,
    port,
    get answered() {
      return answered
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close() // detaches its listeners; the socket is ours to close
        socket.close(() => resolve())
      })
      return closing
    },
  }
}
