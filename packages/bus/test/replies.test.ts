import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BusError } from '../src/index.ts'
import { ReplyRouter } from '../src/lib/replies.ts'
import { startNatsServer } from '@baran/launch'
import type { NatsServerProcess } from '@baran/launch'

const enc = new TextEncoder()
const dec = new TextDecoder()

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    return (e as BusError).code
  }
  throw new Error('expected a rejection')
}

let dir: string
let server: NatsServerProcess
let responder: NatsConnection

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-replies-'))
  server = await startNatsServer({ workDir: dir })
  responder = await connect({ servers: server.url })
  // Answers in reverse order of arrival within a batch of 10, so replies come back out of order.
  const held: Array<() => void> = []
  responder.subscribe('echo', { callback: (_e, m) => m.respond(m.data) })
  responder.subscribe('shuffled', {
    callback: (_e, m) => {
      held.push(() => m.respond(m.data))
      if (held.length === 10) for (const answer of held.splice(0).reverse()) answer()
    },
  })
  responder.subscribe('late', { callback: (_e, m) => setTimeout(() => m.respond(m.data), 150) })
  responder.subscribe('never', { callback: () => undefined })
  await responder.flush()
})

afterAll(async () => {
  await responder?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('ReplyRouter', () => {
  it('matches every reply to its own request, in flight at once and answered out of order', async () => {
    const nc = await connect({ servers: server.url })
    const router = new ReplyRouter(nc, '_INBOX')
    try {
      const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => router.request(i % 2 ? 'echo' : 'shuffled', enc.encode(`n${i}`), { timeoutMs: 5000 })))
      expect(replies.map((m) => dec.decode(m.data))).toEqual(Array.from({ length: 500 }, (_, i) => `n${i}`))
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
    }
  })

  it('times out, drops the late reply, and leaves nothing behind', async () => {
    const nc = await connect({ servers: server.url })
    const router = new ReplyRouter(nc, '_INBOX')
    try {
      const codes = await Promise.all(Array.from({ length: 50 }, () => codeOf(router.request('late', enc.encode('x'), { timeoutMs: 20 }))))
      expect(new Set(codes)).toEqual(new Set(['timeout']))
      expect(router.pending).toBe(0)
      await new Promise((r) => setTimeout(r, 250)) // the late replies arrive and are dropped
      expect(dec.decode((await router.request('echo', enc.encode('after'), { timeoutMs: 5000 })).data)).toBe('after')
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
    }
  })

  it('drops replies to tokens nobody waits for, and keeps memory bounded under a flood of unanswered requests', async () => {
    // A responder that also answers to tokens that were never asked (one too high, one that is not a number).
    const stray = await connect({ servers: server.url })
    stray.subscribe('stray', {
      callback: (_e, m) => {
        const base = (m.reply ?? '').slice(0, (m.reply ?? '').lastIndexOf('.'))
        stray.publish(`${base}.999999999`, enc.encode('forged'))
        stray.publish(`${base}.x`, enc.encode('forged'))
        m.respond(enc.encode('mine'))
      },
    })
    await stray.flush()
    const nc = await connect({ servers: server.url })
    const router = new ReplyRouter(nc, '_INBOX')
    try {
      const replies = await Promise.all(Array.from({ length: 20 }, () => router.request('stray', enc.encode('x'), { timeoutMs: 5000 })))
      expect(new Set(replies.map((m) => dec.decode(m.data)))).toEqual(new Set(['mine']))
      // 5,000 requests nobody answers: each times out, and none is left waiting.
      const codes = await Promise.all(Array.from({ length: 5_000 }, () => codeOf(router.request('never', enc.encode('x'), { timeoutMs: 50 }))))
      expect(codes.every((c) => c === 'timeout')).toBe(true)
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
      await stray.close()
    }
  })

  it('says no_responder for a subject nobody serves, timeout for an abort, invalid_request for a bad subject', async () => {
    const nc = await connect({ servers: server.url })
    const router = new ReplyRouter(nc, '_INBOX')
    try {
      expect(await codeOf(router.request('nobody.here', enc.encode('x'), { timeoutMs: 5000 }))).toBe('no_responder')
      const ac = new AbortController()
      const pending = router.request('never', enc.encode('x'), { timeoutMs: 5000, signal: ac.signal })
      ac.abort(new Error('caller gave up'))
      expect(await codeOf(pending)).toBe('timeout')
      expect(await codeOf(router.request('echo', enc.encode('x'), { timeoutMs: 5000, signal: ac.signal }))).toBe('timeout')
      expect(await codeOf(router.request('', enc.encode('x'), { timeoutMs: 5000 }))).toBe('invalid_request')
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
    }
  })

  it('fails what is in flight with closed when the connection closes, and refuses new requests', async () => {
    const nc = await connect({ servers: server.url })
    const router = new ReplyRouter(nc, '_INBOX')
    const inFlight = Array.from({ length: 20 }, () => codeOf(router.request('never', enc.encode('x'), { timeoutMs: 30_000 })))
    await nc.flush()
    await nc.close()
    expect(new Set(await Promise.all(inFlight))).toEqual(new Set(['closed']))
    expect(await codeOf(router.request('echo', enc.encode('x'), { timeoutMs: 5000 }))).toBe('closed')
    expect(router.pending).toBe(0)
  })
})

describe('ReplyRouter under bus permissions', () => {
  let sdir: string
  let secured: NatsServerProcess
  beforeAll(async () => {
    sdir = await mkdtemp(join(tmpdir(), 'baran-replies-auth-'))
    const conf = join(sdir, 'auth.conf')
    await writeFile(
      conf,
      `authorization { users = [
        { user: ok, password: "p1", permissions: { publish: { allow: ["echo", "secret"] }, subscribe: { allow: ["echo", "secret", "_INBOX_ok.>"] }, allow_responses: true } }
        { user: limited, password: "p2", permissions: { publish: { allow: ["echo"] }, subscribe: { allow: ["_INBOX_limited.>"] } } }
        { user: noinbox, password: "p3", permissions: { publish: { allow: ["echo"] }, subscribe: { allow: ["other"] } } }
      ] }\n`,
    )
    secured = await startNatsServer({ workDir: sdir, configFile: conf })
  })
  afterAll(async () => {
    await secured?.stop()
    await rm(sdir, { recursive: true, force: true })
  })

  it('fails only the refused request, with forbidden; the others are answered', async () => {
    const serving = await connect({ servers: secured.url, user: 'ok', pass: 'p1' })
    serving.subscribe('echo', { callback: (_e, m) => m.respond(m.data) })
    serving.subscribe('secret', { callback: (_e, m) => m.respond(m.data) })
    await serving.flush()
    const nc = await connect({ servers: secured.url, user: 'limited', pass: 'p2', inboxPrefix: '_INBOX_limited' })
    const router = new ReplyRouter(nc, '_INBOX_limited')
    // nats.js reports the server's -ERR on its status stream, as the bus's status watcher reads it.
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && s.permissionContext?.operation === 'publish') router.refused(s.permissionContext.subject)
    })()
    try {
      const results = await Promise.all([
        router.request('echo', enc.encode('a'), { timeoutMs: 5000 }).then((m) => dec.decode(m.data)),
        codeOf(router.request('secret', enc.encode('b'), { timeoutMs: 5000 })),
        router.request('echo', enc.encode('c'), { timeoutMs: 5000 }).then((m) => dec.decode(m.data)),
      ])
      expect(results).toEqual(['a', 'forbidden', 'c'])
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
      await serving.close()
    }
  })

  it('fails with forbidden when the user may not read its reply inbox, and tries the inbox again next time', async () => {
    const serving = await connect({ servers: secured.url, user: 'ok', pass: 'p1' })
    serving.subscribe('echo', { callback: (_e, m) => m.respond(m.data) })
    await serving.flush()
    const nc = await connect({ servers: secured.url, user: 'noinbox', pass: 'p3' })
    const router = new ReplyRouter(nc, '_INBOX_noinbox')
    try {
      expect(await codeOf(router.request('echo', enc.encode('a'), { timeoutMs: 5000 }))).toBe('forbidden')
      expect(await codeOf(router.request('echo', enc.encode('b'), { timeoutMs: 5000 }))).toBe('forbidden')
      expect(router.pending).toBe(0)
    } finally {
      await nc.close()
      await serving.close()
    }
  })
})
