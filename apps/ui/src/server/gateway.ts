import { BusError, BusErrorCode, errorCodeOf, isBusError, issuesOf, outboxSend, statusOfCode } from '@baran/bus'
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type WebSocket, WebSocketServer } from 'ws'
import { MAX_BODY_BYTES, REQUEST_TIMEOUT_MS, UI_HOST } from '../lib/constants.ts'
import { GatewayStartError } from '../lib/errors.ts'
import { ROUTES } from '../lib/routes.ts'
import { type LinkMessage, type Logger, NodeLink } from './node-link.ts'

export interface GatewayOptions {
  /** The node's data directory (node.json, bus/creds/ui.json). */
  dataDir: string
  /** TCP port on 127.0.0.1 (default: a free one). */
  port?: number
  /** The built page (default: apps/ui/dist). */
  distDir?: string
  log?: Logger
}

export interface Gateway {
  /** The URL to open, with the token. */
  url: string
  port: number
  token: string
  close(): Promise<void>
}

export const DEFAULT_DIST = fileURLToPath(new URL('../../dist', import.meta.url))
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
}
/** A send that timed out is asked again, with the same idempotency key, this many times in all. */
const SEND_ATTEMPTS = 2
const COOKIE = 'baran_ui'

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function sendError(res: ServerResponse, status: number, code: string, message: string, details?: unknown): void {
  sendJson(res, status, { error: { code, message, ...(details === undefined ? {} : { details }) } })
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new BusError('too_large', `request body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The UI gateway: HTTP + WebSocket on 127.0.0.1 behind a random per-start token. Serves the built page, a JSON
 * API (POST /api/<actor>.<verb>, validated with the contract, relayed to the bus as the `ui` user) and a
 * WebSocket (/ws) relaying the node's events. Requests without the token get 401; the Host header must be
 * loopback (no DNS rebinding) and the WebSocket's Origin this server.
 */
export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const token = randomBytes(24).toString('base64url')
  const dist = resolve(opts.distDir ?? DEFAULT_DIST)
  const link = new NodeLink(opts.dataDir, opts.log)
  let port = 0
  const hostOk = (req: IncomingMessage) => req.headers.host === `${UI_HOST}:${port}` || req.headers.host === `localhost:${port}`
  const authorized = (req: IncomingMessage, url: URL) =>
    sameToken(url.searchParams.get('token') ?? undefined, token) ||
    sameToken(req.headers['x-baran-token'] as string | undefined, token) ||
    sameToken(cookieOf(req, `${COOKIE}_${port}`), token)

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      opts.log?.error({ err: e }, 'ui gateway: request failed')
      if (!res.headersSent) sendError(res, 500, 'internal', 'the gateway failed')
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${UI_HOST}`)
    if (!hostOk(req)) return sendError(res, 403, 'forbidden', 'wrong Host header')
    if (!authorized(req, url)) return sendError(res, 401, 'unauthorized', 'open the URL the node printed (it carries the token)')
    if (url.pathname.startsWith('/api/')) return api(req, res, url.pathname.slice(5))
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', 'GET only')
    return serveFile(res, url.pathname)
  }

  async function api(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    // A custom header, never the cookie alone: another local page cannot send it without a CORS preflight.
    if (!sameToken(req.headers['x-baran-token'] as string | undefined, token)) return sendError(res, 401, 'unauthorized', 'the API needs the x-baran-token header')
    if (name === 'link' && req.method === 'GET') return sendJson(res, 200, link.status)
    if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'POST a JSON body')
    const route = ROUTES[name]
    if (!route) return sendError(res, 404, 'not_found', `no API ${JSON.stringify(name)}`)
    let body: unknown
    try {
      const text = await readBody(req)
      body = text.trim() === '' ? undefined : JSON.parse(text)
    } catch (e) {
      return sendError(res, isBusError(e) ? 413 : 400, isBusError(e) ? e.code : 'invalid_json', isBusError(e) ? e.message : 'the body is not JSON')
    }
    const parsed = route.contract.request.safeParse(body)
    if (!parsed.success) {
      return sendError(res, 400, 'invalid_request', `bad input for ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`, {
        issues: issuesOf(parsed.error),
      })
    }
    const bus = link.bus
    if (!bus) return sendError(res, 503, 'node_down', 'the node is not running (the page reconnects when it is back)')
    try {
      // A send always carries an idempotency key (the page's, else one per request here), so the retry after a
      // timeout, which may follow a send that was stored after all, stores nothing twice.
      const isSend = route.contract === outboxSend
      const request = isSend ? { idempotencyKey: randomUUID(), ...(parsed.data as object) } : parsed.data
      let reply: unknown
      for (let attempt = 1; ; attempt++) {
        try {
          reply = await bus.request(route.contract, request as never, { timeoutMs: route.timeoutMs ?? REQUEST_TIMEOUT_MS })
          break
        } catch (e) {
          if (!isSend || errorCodeOf(e, outboxSend) !== BusErrorCode.Timeout || attempt >= SEND_ATTEMPTS) throw e
        }
      }
      sendJson(res, 200, reply)
    } catch (e) {
      const err = isBusError(e) ? e : new BusError('internal', (e as Error).message)
      sendError(res, statusOfCode(err.code), err.code, err.message, err.details)
    }
  }

  async function serveFile(res: ServerResponse, pathname: string): Promise<void> {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '')
    const file = normalize(join(dist, rel))
    if (!file.startsWith(dist + sep)) return sendError(res, 404, 'not_found', 'no such file')
    let data: Buffer
    try {
      data = await readFile(file)
    } catch {
      if (rel === 'index.html') return sendError(res, 503, 'not_built', 'the web UI is not built: run `npm run build:web -w @baran/ui`')
      return sendError(res, 404, 'not_found', 'no such file')
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      // The page needs nothing from elsewhere: no CDN, no external fonts.
      'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // The assets the page loads carry no query: the cookie (this port only, this site only) lets them in.
      'set-cookie': `${COOKIE}_${port}=${token}; HttpOnly; SameSite=Strict; Path=/`,
    })
    res.end(data)
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })
  const clients = new Set<WebSocket>()
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${UI_HOST}`)
    const origin = req.headers.origin
    const originOk = origin === undefined || origin === `http://${UI_HOST}:${port}` || origin === `http://localhost:${port}`
    if (url.pathname !== '/ws' || !hostOk(req) || !originOk || !authorized(req, url)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws)
      ws.on('close', () => clients.delete(ws))
      ws.on('error', () => clients.delete(ws))
      ws.send(JSON.stringify(link.status))
    })
  })
  link.on((m: LinkMessage) => {
    const text = JSON.stringify(m)
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text)
  })

  await link.start()
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(opts.port ?? 0, UI_HOST, () => ok())
    })
  } catch (e) {
    await link.close()
    throw new GatewayStartError(`the UI gateway cannot listen on ${UI_HOST}:${opts.port ?? 0}: ${(e as Error).message}`, { cause: e })
  }
  port = (server.address() as AddressInfo).port
  return {
    url: `http://${UI_HOST}:${port}/?token=${token}`,
    port,
    token,
    async close() {
      for (const ws of clients) ws.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>((ok) => server.close(() => ok()))
      await link.close()
    },
  }
}
