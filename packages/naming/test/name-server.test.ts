import { request } from 'node:http'
import { createServer } from 'node:net'
import fc from 'fast-check'
import { fromBase64Url, nameClaimMessage } from '@baran/trust'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CachedResolver } from '../src/lib/cached-resolver.ts'
import { createProvider } from '../src/lib/devnet.ts'
import { type NameServer, startNameServer } from '../src/lib/name-server.ts'
import { RegistryClient } from '../src/lib/registry-client.ts'
import { account, client, registerRaw, type TestAccount, uniqueName, useDevnet } from './helpers.ts'

const env = useDevnet()
let server: NameServer
let limited: NameServer
let down: NameServer
let downProvider: ReturnType<typeof createProvider>

beforeAll(async () => {
  const c = client(env.devnet, 1) // the server's funded wallet pays gas
  server = await startNameServer({ client: c, resolver: new CachedResolver(c, { negativeTtlMs: 0 }), sponsor: true, rateLimit: false })
  limited = await startNameServer({ client: client(env.devnet), rateLimit: { perMinute: 3 } })
  // A server whose chain is gone: its RPC port has nobody listening.
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as { port: number }).port
  await new Promise<void>((r) => probe.close(() => r()))
  downProvider = createProvider(`http://127.0.0.1:${port}`, { chainId: 31337n, timeoutMs: 2000 })
  down = await startNameServer({
    sponsor: true,
    client: new RegistryClient({
      provider: downProvider,
      registry: env.devnet.registry,
      chainId: 31337n,
      signer: Wallet.createRandom(downProvider),
    }),
  })
})
afterAll(async () => {
  await Promise.all([server?.close(), limited?.close(), down?.close()])
  downProvider?.destroy()
})

interface Reply {
  status: number
  type: string | null
  body: Record<string, unknown>
}

async function call(base: string, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(20_000) })
  const text = await res.text()
  return { status: res.status, type: res.headers.get('content-type'), body: JSON.parse(text) }
}

/** A Jami-style registration body: base64 (standard alphabet, padded) as Jami's daemon sends. */
function jamiBody(acct: TestAccount, signature: string, owner: string) {
  const std = (s: string) => Buffer.from(fromBase64Url(s)).toString('base64')
  return { addr: `0x${acct.accountId}`, owner, signature: std(signature), publickey: std(acct.publicKey) }
}

async function signedBody(name: string, acct: TestAccount, owner = Wallet.createRandom().address) {
  const message = nameClaimMessage({ name, owner, chainId: env.devnet.chainId, registry: env.devnet.registry })
  return jamiBody(acct, await acct.signClaim(message), owner)
}

const post = (name: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  call(server.url, `/name/${name}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('name server: Jami protocol routes', () => {
  it('POST /name/:name registers on the user’s behalf; GET /name and /addr find it', async () => {
    const name = uniqueName('jami')
    const acct = account(1)
    const owner = Wallet.createRandom().address
    const reg = await post(name, await signedBody(name, acct, owner))
    expect(reg).toMatchObject({ status: 200, type: 'application/json; charset=utf-8', body: { success: true, txHashes: [expect.any(String), expect.any(String)], blockNumber: expect.any(Number) } })

    const got = await call(server.url, `/name/${name}`)
    expect(got.status).toBe(200)
    expect(got.body).toEqual({
      name,
      addr: `0x${acct.accountId}`,
      owner,
      baranPublicKey: acct.publicKey,
      baranSignature: expect.any(String),
    })
    // Jami clients verify `publickey`/`signature` as Jami keys: those names must stay unused.
    expect(got.body).not.toHaveProperty('publickey')
    expect(got.body).not.toHaveProperty('signature')

    for (const addr of [`0x${acct.accountId}`, acct.accountId, acct.accountId.toUpperCase()]) {
      expect(await call(server.url, `/addr/${addr}`)).toMatchObject({ status: 200, body: { name } })
    }
  })

  it('accepts base64url fields too, and a retried registration for the same account', async () => {
    const name = uniqueName('url')
    const acct = account(2)
    const owner = Wallet.createRandom().address
    const message = nameClaimMessage({ name, owner, chainId: env.devnet.chainId, registry: env.devnet.registry })
    const body = { addr: acct.accountId, owner, signature: await acct.signClaim(message), publickey: acct.publicKey }
    expect((await post(name, body)).body).toMatchObject({ success: true })
    expect(await post(name, body)).toMatchObject({ status: 200, body: { success: true } })
  })

  it('404 for an unknown name or address, with Jami’s error shape', async () => {
    expect(await call(server.url, `/name/${uniqueName('nobody')}`)).toMatchObject({
      status: 404,
      body: { error: 'name not registered' },
    })
    expect(await call(server.url, `/addr/0x${account(77).accountId}`)).toMatchObject({
      status: 404,
      body: { error: 'address not registered' },
    })
  })

  it('400 for an invalid name or address', async () => {
    for (const bad of ['ab', 'Alice', '-abc', 'a%20b', '%C3%A9%C3%A9%C3%A9', 'a'.repeat(33), '%E0%A4%A']) {
      const r = await call(server.url, `/name/${bad}`)
      expect(r.status, bad).toBe(400)
      expect(r.body.error).toEqual(expect.any(String))
    }
    for (const bad of ['xyz', '0x1234', `0x${'g'.repeat(40)}`, 'ab'.repeat(21)]) {
      expect(await call(server.url, `/addr/${bad}`)).toMatchObject({ status: 400, body: { error: 'bad address format' } })
    }
  })

  it('GET /registry tells clients what a claim must be bound to', async () => {
    expect(await call(server.url, '/registry')).toMatchObject({
      status: 200,
      body: { chainId: '31337', registry: env.devnet.registry },
    })
  })

  it('JSON 404 / 405 for other routes and methods', async () => {
    expect(await call(server.url, '/')).toMatchObject({ status: 404, body: { error: 'not found' } })
    expect(await call(server.url, '/name/abc/owner')).toMatchObject({ status: 404, body: { error: 'not found' } })
    expect(await call(server.url, '/name/abc', { method: 'DELETE' })).toMatchObject({ status: 405 })
    expect(await call(server.url, '/addr/abc', { method: 'POST' })).toMatchObject({ status: 405 })
    expect(await call(server.url, '/registry', { method: 'PUT' })).toMatchObject({ status: 405 })
  })
})

describe('name server: bad registrations', () => {
  it('409 when the name belongs to another account', async () => {
    const name = uniqueName('taken')
    expect((await post(name, await signedBody(name, account(3)))).status).toBe(200)
    expect(await post(name, await signedBody(name, account(4)))).toMatchObject({
      status: 409,
      body: { error: 'name already registered' },
    })
  })

  it('401 when addr is not the hash of publickey, or the signature does not verify', async () => {
    const name = uniqueName('sig')
    const good = await signedBody(name, account(5))
    const other = await signedBody(name, account(6))
    const cases = [
      { ...good, addr: `0x${account(6).accountId}` }, // addr of someone else
      { ...good, signature: other.signature }, // signed by another key
      { ...good, signature: Buffer.alloc(64).toString('base64') },
      { ...good, owner: Wallet.createRandom().address }, // claim was for another owner
      await signedBody(uniqueName('other'), account(5)), // claim for another name
    ]
    for (const body of cases) {
      const r = await post(name, body)
      expect(r.status).toBe(401)
      expect(r.body.error).toEqual(expect.any(String))
    }
    expect((await call(server.url, `/name/${name}`)).status).toBe(404)
  })

  it('400 for missing fields, malformed fields, non-object JSON or bad JSON', async () => {
    const name = uniqueName('bad')
    const good = await signedBody(name, account(7))
    const cases: unknown[] = [
      {},
      { addr: good.addr },
      { ...good, publickey: undefined },
      { ...good, owner: '' },
      { ...good, addr: 'nothex' },
      { ...good, owner: 'not-an-address' },
      { ...good, publickey: 'AAAA' }, // 3 bytes: not an Ed25519 key (e.g. a Jami RSA key)
      { ...good, publickey: Buffer.alloc(300).toString('base64') },
      { ...good, signature: '!!!' },
      { ...good, addr: 42 },
      [good],
      'just a string',
      null,
      42,
    ]
    for (const body of cases) {
      const r = await post(name, JSON.stringify(body))
      expect(r.status, JSON.stringify(body)).toBe(400)
    }
    for (const raw of ['{', '{"addr":', 'not json', '', '\u0000']) {
      expect(await post(name, raw)).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } })
    }
    expect((await post('Bad-Name', good)).status).toBe(400)
  })

  it('415 for a non-JSON content type', async () => {
    const name = uniqueName('ct')
    const body = JSON.stringify(await signedBody(name, account(8)))
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      expect(await post(name, body, { 'content-type': type })).toMatchObject({ status: 415 })
    }
    expect(await post(name, body, { 'content-type': 'application/json; charset=utf-8' })).toMatchObject({ status: 200 })
  })

  it('413 for a body larger than maxBodyBytes, declared or streamed', async () => {
    const big = JSON.stringify({ addr: 'x'.repeat(10_000) })
    expect(await post(uniqueName(), big)).toMatchObject({ status: 413, body: { error: expect.stringMatching(/larger/) } })

    // Chunked upload with no Content-Length: refused once the limit is crossed, no hang.
    const { port } = new URL(server.url)
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: `/name/${uniqueName()}`, headers: { 'content-type': 'application/json' } },
        (res) => {
          let body = ''
          res.on('data', (c) => {
            body += c
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        },
      )
      req.on('error', reject)
      req.setTimeout(10_000, () => req.destroy(new Error('no reply')))
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1000))
      req.end()
    })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.body)).toEqual({ error: expect.stringMatching(/larger/) })
  })

  it('answers random bodies and paths with a JSON 4xx, never a 5xx or a hang (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 3 }).map((j) => j)),
        fc.string({ maxLength: 40 }),
        async (body, path) => {
          const r = await fetch(`${server.url}/name/${encodeURIComponent(path)}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(20_000),
          })
          expect(r.status).toBeGreaterThanOrEqual(400)
          expect(r.status).toBeLessThan(500)
          expect(await r.json()).toEqual({ error: expect.any(String) })
        },
      ),
      { numRuns: 60 },
    )
  })
})

describe('name server: limits and outages', () => {
  it('429 with Retry-After once a client spends its per-minute budget', async () => {
    const statuses: number[] = []
    let retryAfter: string | null = null
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${limited.url}/name/${uniqueName('rl')}`)
      statuses.push(res.status)
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after')
        expect(await res.json()).toEqual({ error: 'too many requests' })
      } else await res.arrayBuffer()
    }
    expect(statuses).toEqual([404, 404, 404, 429, 429])
    expect(Number(retryAfter)).toBeGreaterThan(0)
  })

  it('503 when the chain is unavailable', async () => {
    expect(await call(down.url, '/name/alice')).toMatchObject({ status: 503, body: { error: 'chain unavailable' } })
    expect(await call(down.url, `/addr/${account(1).accountId}`)).toMatchObject({ status: 503 })
    const name = uniqueName('down')
    const body = await signedBody(name, account(1))
    expect((await call(down.url, `/name/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status).toBe(503)
  })

  it('503 when its own wallet cannot pay for gas', async () => {
    const poor = await startNameServer({
      sponsor: true,
      client: new RegistryClient({
        provider: env.devnet.provider,
        registry: env.devnet.registry,
        signer: Wallet.createRandom(env.devnet.provider),
      }),
    })
    try {
      const name = uniqueName('poor')
      const r = await call(poor.url, `/name/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(await signedBody(name, account(9))),
      })
      expect(r).toMatchObject({ status: 503, body: { error: 'name server cannot pay for gas' } })
    } finally {
      await poor.close()
    }
  })

  it('501 for registrations when a sponsoring server has no wallet', async () => {
    const readOnly = await startNameServer({ client: client(env.devnet), sponsor: true })
    try {
      const name = uniqueName('ro')
      const r = await call(readOnly.url, `/name/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(await signedBody(name, account(9))),
      })
      expect(r).toMatchObject({ status: 501, body: { error: expect.any(String) } })
    } finally {
      await readOnly.close()
    }
  })

  it('a forged record reads as absent (404)', async () => {
    const name = uniqueName('forge')
    const a = account(50)
    await registerRaw(env.devnet, name, { accountId: a.accountId, publicKey: fromBase64Url(a.publicKey), signature: new Uint8Array(64) })
    expect(await call(server.url, `/name/${name}`)).toMatchObject({
      status: 404,
      body: { error: 'name record failed verification' },
    })
  })
})
