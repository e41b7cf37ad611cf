/**
 * A name server speaking Jami's name-server HTTP protocol (as its daemon's NameDirectory uses
 * it), backed by the registry. With `sponsor: true` it pays gas for registrations on behalf of its
 * users (rate-limited per claiming key and per client network); otherwise POST answers 403.
 *
 *   GET  /name/:name     → 200 {name, addr: "0x<account id>", baranPublicKey, baranSignature, owner}
 *   GET  /addr/:address  → 200 {name}
 *   POST /name/:name     {addr, owner, signature, publickey} → 200 {success: true, txHashes, blockNumber}
 *   GET  /registry       → 200 {chainId, registry}   (Baran's own: what a claim must be bound to)
 *
 * Errors are always JSON `{"error": "..."}`. The Baran key and signature travel in fields of
 * their own: Jami clients verify `publickey`/`signature` as Jami keys and would reject ours.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fromBase64Url } from '@baran/trust'
import {
  DEFAULT_CLAIM_WINDOW_MS,
  DEFAULT_CLAIMS_PER_KEY,
  DEFAULT_CLAIMS_PER_PREFIX,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './constants.ts'
import { isNamingError } from './errors.ts'
import type { Logger } from './logger.ts'
import { describeNameViolation, validateName } from './name-rules.ts'
import { addressPrefix, RateLimiter } from './rate-limiter.ts'
import type { Resolver } from './cached-resolver.ts'
import type { RegistryClient } from './registry-client.ts'

export interface NameServerInit {
  /** Registry client; with a funded signer and `sponsor`, the server pays gas for registrations. */
  client: RegistryClient
  /**
   * Pay gas for any valid claim, from anyone (POST /name/:name). Off, registrations answer 403: claimants send
   * their claim to the registry themselves. @default false
   */
  sponsor?: boolean
  /** Answers GET lookups (e.g. a CachedResolver over `client`). @default client */
  resolver?: Resolver
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 (a free port) */
  port?: number
  /**
   * Requests per minute per client network (IPv4 /24, IPv6 /64), and sponsored claims per claiming key and per
   * client network in `claimWindowMs`; false turns all limiting off.
   * @default { perMinute: 120, claimsPerKey: 5, claimsPerPrefix: 20, claimWindowMs: 3600000 }
   */
  rateLimit?: { perMinute?: number; claimsPerKey?: number; claimsPerPrefix?: number; claimWindowMs?: number } | false
  /** Largest accepted POST body. @default 4096 */
  maxBodyBytes?: number
  /** Deadline of a whole request (a registration waits for two blocks). @default 60000 */
  requestTimeoutMs?: number
  log?: Logger
}

export interface NameServer {
  url: string
  port: number
  close(): Promise<void>
}

class HttpError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'HttpError'
    this.status = status
  }
}

const ADDR_RE = /^(?:0x)?([0-9a-fA-F]{40})$/

/** Starts the name server; resolves once it listens. */
export async function startNameServer(init: NameServerInit): Promise<NameServer> {
  const { client, log } = init
  const resolver = init.resolver ?? client
  const maxBody = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const limits = init.rateLimit === false ? undefined : (init.rateLimit ?? {})
  const windowMs = limits?.claimWindowMs ?? DEFAULT_CLAIM_WINDOW_MS
  const limiter = limits && new RateLimiter({ perMinute: limits.perMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE })
  const claimsPerKey = limits && new RateLimiter({ limit: limits.claimsPerKey ?? DEFAULT_CLAIMS_PER_KEY, windowMs })
  const claimsPerPrefix = limits && new RateLimiter({ limit: limits.claimsPerPrefix ?? DEFAULT_CLAIMS_PER_PREFIX, windowMs })

  function spend(bucket: RateLimiter | undefined, client: string, res: ServerResponse, message: string): void {
    const wait = bucket?.take(client) ?? 0
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)))
      throw new HttpError(429, message)
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    spend(limiter, addressPrefix(req.socket.remoteAddress), res, 'too many requests')
    const path = (req.url ?? '/').split('?')[0]!
    const parts = path.split('/').slice(1)
    let param: string
    try {
      param = decodeURIComponent(parts[1] ?? '')
    } catch {
      throw new HttpError(400, 'bad percent-encoding in path')
    }
    const method = req.method ?? 'GET'

    if (parts[0] === 'name' && parts.length === 2) {
      if (method === 'GET') return getName(param, res)
      if (method === 'POST') return postName(param, req, res)
      throw new HttpError(405, 'method not allowed')
    }
    if (parts[0] === 'addr' && parts.length === 2) {
      if (method === 'GET') return getAddr(param, res)
      throw new HttpError(405, 'method not allowed')
    }
    if (parts[0] === 'registry' && parts.length === 1) {
      if (method !== 'GET') throw new HttpError(405, 'method not allowed')
      return send(res, 200, { chainId: String(await client.chainId()), registry: client.registry })
    }
    throw new HttpError(404, 'not found')
  }

  async function getName(name: string, res: ServerResponse): Promise<void> {
    checkName(name)
    try {
      const r = await resolver.lookup(name)
      send(res, 200, {
        name: r.name,
        addr: `0x${r.accountId}`,
        owner: r.owner,
        baranPublicKey: r.publicKey,
        baranSignature: r.signature,
      })
    } catch (e) {
      if (isNamingError(e, 'not_found')) throw new HttpError(404, 'name not registered')
      // A record that does not verify names nobody: for clients it is as good as absent.
      if (isNamingError(e, 'forged_record')) throw new HttpError(404, 'name record failed verification')
      throw e
    }
  }

  async function getAddr(addr: string, res: ServerResponse): Promise<void> {
    const m = ADDR_RE.exec(addr)
    if (!m) throw new HttpError(400, 'bad address format')
    try {
      send(res, 200, { name: await resolver.reverse(m[1]!.toLowerCase()) })
    } catch (e) {
      if (isNamingError(e, 'not_found')) throw new HttpError(404, 'address not registered')
      throw e
    }
  }

  async function postName(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkName(name)
    if (init.sponsor !== true) throw new HttpError(403, 'this name server does not pay for registrations: send your claim to the registry yourself')
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json') throw new HttpError(415, 'content-type must be application/json')
    const body = parseJson(await readBody(req, maxBody))
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'body must be a JSON object')
    const fields = body as Record<string, unknown>
    const missing = ['addr', 'owner', 'signature', 'publickey'].filter((k) => typeof fields[k] !== 'string' || fields[k] === '')
    if (missing.length > 0) throw new HttpError(400, `missing field(s): ${missing.join(', ')}`)
    const addr = ADDR_RE.exec(fields.addr as string)
    if (!addr) throw new HttpError(400, 'bad address format')
    const accountId = addr[1]!.toLowerCase()
    const publicKey = base64ToUrl(fields.publickey as string, 32, 'publickey')
    const signature = base64ToUrl(fields.signature as string, 64, 'signature')
    const owner = fields.owner as string
    if (!/^0x[0-9a-fA-F]{40}$/.test(owner)) throw new HttpError(400, 'owner must be a 0x Ethereum address')
    // Fresh keys are free: the network budget bounds them, the key budget bounds one key spread over networks.
    spend(claimsPerPrefix, addressPrefix(req.socket.remoteAddress), res, 'too many registrations from this network')
    spend(claimsPerKey, publicKey, res, 'too many registrations for this key')

    try {
      const r = await client.register(name, { accountId, publicKey, owner, signClaim: async () => signature })
      // Jami clients read `success`; Baran's client also reports the transactions.
      send(res, 200, { success: true, txHashes: r.txHashes, blockNumber: r.blockNumber })
    } catch (e) {
      if (isNamingError(e, 'name_taken')) {
        // A retried registration of the same name for the same account succeeded earlier.
        const existing = await client.lookup(name).catch(() => undefined)
        if (existing?.accountId === accountId) return send(res, 200, { success: true })
        throw new HttpError(409, 'name already registered')
      }
      if (isNamingError(e, 'invalid_claim')) throw new HttpError(401, e.message)
      throw e
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      let status = 500
      let message = 'internal error'
      if (e instanceof HttpError) {
        status = e.status
        message = e.message
      } else if (isNamingError(e)) {
        switch (e.code) {
          case 'invalid_name':
          case 'invalid_account_id':
            status = 400
            message = e.message
            break
          case 'unavailable':
            status = 503
            message = 'chain unavailable'
            break
          case 'insufficient_funds':
            status = 503
            message = 'name server cannot pay for gas'
            break
          case 'no_signer':
            status = 501
            message = 'this name server does not register names'
            break
        }
      }
      if (status >= 500) log?.error({ err: e, url: req.url }, 'name server request failed')
      if (status === 413) res.setHeader('Connection', 'close')
      send(res, status, { error: message })
    })
  })
  server.requestTimeout = init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  server.headersTimeout = Math.min(10_000, server.requestTimeout)

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, init.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  log?.info({ url: `http://${host}:${address.port}` }, 'name server listening')
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function checkName(name: string): void {
  const v = validateName(name)
  if (!v.ok) throw new HttpError(400, describeNameViolation(v.reason))
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  })
  res.end(text)
}

/** Reads the body, refusing (413) as soon as it is larger than `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > max) return Promise.reject(new HttpError(413, `body larger than ${max} bytes`))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > max) {
        req.off('data', onData)
        req.resume() // discard the rest; the reply closes the connection
        reject(new HttpError(413, `body larger than ${max} bytes`))
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => resolve(Buffer.concat(chunks)))
    req.once('error', reject)
  })
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new HttpError(400, 'body is not valid JSON')
  }
}

/** Accepts base64 or base64url (padded or not) of exactly `bytes` bytes; returns base64url. */
function base64ToUrl(s: string, bytes: number, field: string): string {
  const url = s.trim().replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  let decoded: Uint8Array
  try {
    decoded = fromBase64Url(url)
  } catch {
    throw new HttpError(400, `${field} is not base64`)
  }
  if (decoded.length !== bytes) throw new HttpError(400, `${field} must be ${bytes} bytes`)
  return url
}
