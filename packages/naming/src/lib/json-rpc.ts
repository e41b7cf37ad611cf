/**
 * A minimal JSON-RPC client over node:http, for the local dev chain (anvil on loopback) without ethers: one request
 * per call, kept-alive connections, each call bounded in time.
 */
import { Agent, request } from 'node:http'
import { DEFAULT_RPC_TIMEOUT_MS } from './constants.ts'

export interface JsonRpc {
  /** Sends `method` and resolves with its `result`; rejects on a JSON-RPC error, a transport error or the timeout. */
  call<T = unknown>(method: string, params?: unknown[], timeoutMs?: number): Promise<T>
  /** Closes the kept-alive connections. */
  close(): void
}

/** A client for the `http:` JSON-RPC endpoint at `url`. */
export function jsonRpc(url: string, opts: { timeoutMs?: number } = {}): JsonRpc {
  if (!url.startsWith('http:')) throw new TypeError(`jsonRpc: only http: URLs (a local chain), got ${url}`)
  // Idle keep-alive sockets are unref'd by Node, so they never hold the process open.
  const agent = new Agent({ keepAlive: true })
  let id = 0
  return {
    call<T>(method: string, params: unknown[] = [], timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS): Promise<T> {
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params })
      return new Promise<T>((resolve, reject) => {
        const req = request(
          url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('error', fail)
            res.on('end', () => {
              clearTimeout(timer)
              try {
                const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: T; error?: { code?: number; message?: string } }
                if (answer.error) reject(new Error(`${method}: ${answer.error.message ?? 'error'} (code ${answer.error.code})`))
                else resolve(answer.result as T)
              } catch (e) {
                reject(new Error(`${method}: unreadable answer (HTTP ${res.statusCode})`, { cause: e }))
              }
            })
          },
        )
        function fail(e: Error): void {
          clearTimeout(timer)
          reject(e)
        }
        const timer = setTimeout(() => req.destroy(new Error(`${method}: no answer within ${timeoutMs} ms`)), timeoutMs)
        req.on('error', fail)
        req.end(body)
      })
    },
    close() {
      agent.destroy()
    },
  }
}
