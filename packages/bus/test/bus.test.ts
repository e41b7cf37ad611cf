import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Bus, type BusError, contract, encodeJson, event, healthContractOf, requestSubject } from '../src/index.ts'
import { startNatsServer } from '@baran/launch'
import type { NatsServerProcess } from '@baran/launch'

const add = contract({
  actor: 'calc',
  verb: 'add',
  request: z.object({ a: z.number(), b: z.number() }).strict(),
  reply: z.object({ sum: z.number() }),
  callers: ['cli'],
  description: 'adds two numbers',
})
const boom = contract({ actor: 'calc', verb: 'boom', request: z.object({ kind: z.enum(['plain', 'domain']) }), reply: z.object({}), callers: ['cli'], description: 'fails' })
const slow = contract({ actor: 'calc', verb: 'slow', request: z.object({ ms: z.number() }), reply: z.object({ ok: z.boolean() }), callers: ['cli'], description: 'waits' })
const liar = contract({ actor: 'calc', verb: 'liar', request: z.object({}), reply: z.object({ n: z.number() }), callers: ['cli'], description: 'breaks its reply contract' })
const added = event({ actor: 'calc', event: 'added', body: z.object({ sum: z.number() }), description: 'a sum was computed' })

class DomainError extends Error {
  override name = 'DomainError'
  readonly code = 'name_taken'
}

let dir: string
let server: NatsServerProcess
let serverBus: Bus
let client: Bus

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-bus-'))
  server = await startNatsServer({ workDir: dir })
  serverBus = await Bus.connect({ servers: server.url, node: 'n1' })
  client = await Bus.connect({ servers: server.url, node: 'n1' })
  const svc = await serverBus.service({ name: 'calc', version: '1.0.0' })
  svc.serve(add, ({ a, b }) => {
    serverBus.publish(added, { sum: a + b })
    return { sum: a + b }
  })
  svc.serve(boom, ({ kind }) => {
    if (kind === 'domain') throw new DomainError('that name is taken')
    throw new Error('kaput')
  })
  svc.serve(slow, async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms))
    return { ok: true }
  })
  // biome-ignore lint/suspicious/noExplicitAny: deliberately breaks the reply schema
  svc.serve(liar, () => ({ n: 'not a number' }) as any)
  // The endpoints' subscriptions reach the server with the next flush (the actor runtime flushes before it says
  // ready): without it the first request could find nobody serving on a loaded machine.
  await serverBus.flush()
})

afterAll(async () => {
  await client?.close()
  await serverBus?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

async function expectBusError(p: Promise<unknown>, code: string): Promise<BusError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e, `expected a BusError with code ${code}`).toBeInstanceOf(Error)
  expect((e as BusError).name).toBe('BusError')
  expect((e as BusError).code).toBe(code)
  return e as BusError
}

describe('request/reply', () => {
  it('returns the validated reply', async () => {
    await expect(client.request(add, { a: 2, b: 3 })).resolves.toEqual({ sum: 5 })
  })

  it('answers a malformed body with invalid_request and the zod issues', async () => {
    const { error } = await client.requestRaw(requestSubject('n1', 'calc', 'add'), encodeJson({ a: 'x' }))
    expect(error?.code).toBe('invalid_request')
    const issues = (error?.details as { issues: Array<{ path: string }> } | undefined)?.issues ?? []
    expect(issues.map((i) => i.path).sort()).toEqual(['a', 'b'])
  })

  it('answers bytes that are not JSON with invalid_request', async () => {
    const { error } = await client.requestRaw(requestSubject('n1', 'calc', 'add'), new Uint8Array([0xff, 0xfe, 0x00]))
    expect(error?.code).toBe('invalid_request')
  })

  it('refuses a bad body on the client side before sending', async () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong
    await expectBusError(client.request(add, { a: 1 } as any), 'invalid_request')
  })

  it('turns a handler exception into internal and keeps serving', async () => {
    const e = await expectBusError(client.request(boom, { kind: 'plain' }), 'internal')
    expect(e.message).toContain('kaput')
    await expect(client.request(add, { a: 1, b: 1 })).resolves.toEqual({ sum: 2 })
  })

  it('keeps the code of a domain error', async () => {
    const e = await expectBusError(client.request(boom, { kind: 'domain' }), 'name_taken')
    expect(e.message).toBe('that name is taken')
  })

  it('refuses an unknown contract major version', async () => {
    const { error } = await client.requestRaw(requestSubject('n1', 'calc', 'add'), encodeJson({ a: 1, b: 2 }), { version: 2 })
    expect(error?.code).toBe('unsupported_version')
  })

  it('reports a reply that breaks its contract as internal on the server side', async () => {
    await expectBusError(client.request(liar, {}), 'internal')
  })

  it('fails fast with no_responder when nobody serves the subject', async () => {
    const started = Date.now()
    await expectBusError(client.request(add, { a: 1, b: 2 }, { node: 'nobody' }), 'no_responder')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('times out with timeout', async () => {
    await expectBusError(client.request(slow, { ms: 500 }, { timeoutMs: 50 }), 'timeout')
  })

  it('aborts with a signal', async () => {
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 30)
    await expectBusError(client.request(slow, { ms: 300 }, { signal: ac.signal, timeoutMs: 5000 }), 'timeout')
  })

  it('serves many concurrent requests', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request(add, { a: i, b: 1 })))
    expect(replies.map((r) => r.sum)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
  })

  it('gives every actor $SRV discovery through the services framework', async () => {
    const { data } = await client.requestRaw('$SRV.PING.calc', new Uint8Array())
    expect(JSON.parse(new TextDecoder().decode(data))).toMatchObject({ name: 'calc', version: '1.0.0' })
  })

  it('names health subjects per actor', () => {
    expect(requestSubject('n1', healthContractOf('calc').actor, 'health')).toBe('baran.n1.calc.health')
  })
})

describe('events', () => {
  it('delivers validated events and drops invalid ones', async () => {
    const got: number[] = []
    const invalid: string[] = []
    const sub = await client.subscribe(added, (b) => void got.push(b.sum), { onInvalid: (e) => invalid.push(e.code) })
    await client.request(add, { a: 20, b: 22 })
    // a foreign publisher sends garbage on the same subject
    const raw = await Bus.connect({ servers: server.url, node: 'n1' })
    await raw.requestRaw('baran.n1.calc.evt.added', encodeJson({ sum: 'x' }), { timeoutMs: 50 }).catch(() => undefined)
    await raw.close()
    await expect.poll(() => got).toEqual([42])
    await expect.poll(() => invalid).toEqual(['invalid_request'])
    sub.unsubscribe()
  })

  it('refuses to publish an invalid event', () => {
    // biome-ignore lint/suspicious/noExplicitAny: deliberately wrong
    expect(() => client.publish(added, { sum: 'x' } as any)).toThrow(/does not match/)
  })
})

describe('permissions', () => {
  let secured: NatsServerProcess
  let sdir: string
  beforeAll(async () => {
    sdir = await mkdtemp(join(tmpdir(), 'baran-bus-perm-'))
    const conf = join(sdir, 'nats.conf')
    await writeFile(
      conf,
      `authorization { users = [
        { user: calc, password: "p1", permissions: { publish: { allow: ["baran.n1.calc.evt.>", "$SRV.>"] }, subscribe: { allow: ["baran.n1.calc.>", "$SRV.>", "_INBOX_calc.>"] }, allow_responses: true } }
        { user: other, password: "p2", permissions: { publish: { allow: ["baran.n1.other.>"] }, subscribe: { allow: ["baran.n1.other.>", "_INBOX_other.>"] }, allow_responses: true } }
      ] }\n`,
    )
    secured = await startNatsServer({ workDir: sdir, configFile: conf })
  })
  afterAll(async () => {
    await secured?.stop()
    await rm(sdir, { recursive: true, force: true })
  })

  it('refuses a wrong password', async () => {
    await expectBusError(Bus.connect({ servers: secured.url, node: 'n1', user: 'calc', pass: 'wrong' }), 'forbidden')
  })

  it("refuses a request to another actor's subject and a subscription to its private subjects", async () => {
    const calc = await Bus.connect({ servers: secured.url, node: 'n1', user: 'calc', pass: 'p1' })
    const svc = await calc.service({ name: 'calc', version: '1.0.0' })
    svc.serve(add, ({ a, b }) => ({ sum: a + b }))
    const other = await Bus.connect({ servers: secured.url, node: 'n1', user: 'other', pass: 'p2' })
    try {
      await expectBusError(other.request(add, { a: 1, b: 2 }), 'forbidden')
      await expectBusError(other.subscribeRaw('baran.n1.calc.>', () => {}), 'forbidden')
      // and the connection survives the refusals
      await expectBusError(other.request(add, { a: 1, b: 2 }, { node: 'n1' }), 'forbidden')
    } finally {
      await other.close()
      await calc.close()
    }
  })
})
