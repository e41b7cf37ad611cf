/** The gateway alone (no node running): token, Host check, path traversal, and input validation before the bus. */
import { Cleanup, tempDir } from '@baran/testkit'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Gateway, GatewayStartError, startGateway } from '../src/index.ts'

const cleanup = new Cleanup()
let gw: Gateway
let dist: string
beforeAll(async () => {
  const dir = await tempDir(cleanup, 'baran-ui-')
  dist = join(dir, 'dist')
  await mkdir(dist)
  await writeFile(join(dist, 'index.html'), '<div id="app"></div>')
  await writeFile(join(dir, 'secret.txt'), 'do not serve')
  gw = await startGateway({ dataDir: join(dir, 'no-node'), distDir: dist })
  cleanup.add('close gateway', () => gw.close())
})
afterAll(() => cleanup.run())

const api = (name: string, body: string, token = gw.token) =>
  fetch(`http://127.0.0.1:${gw.port}/api/${name}`, { method: 'POST', headers: { 'x-baran-token': token }, body })

describe('gateway', () => {
  it('prints a loopback URL with a long random token', () => {
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/)
  })

  it('serves the page with the token and sets a cookie scoped to its port', async () => {
    const r = await fetch(gw.url)
    expect(r.status).toBe(200)
    expect(r.headers.get('set-cookie')).toContain(`baran_ui_${gw.port}=${gw.token}`)
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'")
  })

  it('refuses requests without the token, with a wrong one, or with a foreign Host', async () => {
    expect((await fetch(`http://127.0.0.1:${gw.port}/`)).status).toBe(401)
    expect((await api('node.status', '{}', 'x'.repeat(32))).status).toBe(401)
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port: gw.port, path: `/?token=${gw.token}`, headers: { host: 'evil.example:80' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.end()
    })
    expect(status).toBe(403)
  })

  it('never serves files outside the built page', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const r = await fetch(`http://127.0.0.1:${gw.port}${p}?token=${gw.token}`)
      expect(r.status).toBe(404)
    }
  })

  it('validates input with the contract before it needs the node', async () => {
    const bad = await api('outbox.send', JSON.stringify({ to: '', body: 'x' }))
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request')
    const down = await api('outbox.send', JSON.stringify({ to: 'bob', body: 'x' }))
    expect(down.status).toBe(503)
    expect(((await down.json()) as { error: { code: string } }).error.code).toBe('node_down')
  })

  it('answers any body with a JSON error, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json()), async (body) => {
        const r = await api('outbox.send', body)
        expect([400, 503]).toContain(r.status)
        expect(typeof ((await r.json()) as { error: { code: string } }).error.code).toBe('string')
      }),
      { numRuns: 40 },
    )
  })

  it('fails to start on a taken port with a typed error', async () => {
    const e = await startGateway({ dataDir: '/nonexistent', distDir: dist, port: gw.port }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(GatewayStartError)
    expect((e as GatewayStartError).name).toBe('GatewayStartError')
    expect((e as GatewayStartError).code).toBe('gateway_start_failed')
  })
})
