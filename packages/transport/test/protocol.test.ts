import { generateKeyPair } from '@baran/trust'
import { createServer } from 'node:net'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { type EnvelopeResult, type EnvelopeSender, PROTOCOL, type TransportHost } from '../src/index.ts'
import {
  credentialsFor,
  type Device,
  directAddrs,
  HostPool,
  makeBinding,
  makeDevice,
  makeRevocations,
  waitUntil,
} from './fixtures.ts'

const pool = new HostPool()
afterEach(() => pool.stopAll())
afterAll(() => pool.stopAll())

const enc = new TextEncoder()
const payload = (s: string) => enc.encode(s)

/** Captures the rejection of `p` (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { code: string; reason?: string; remote?: boolean }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code: string; reason?: string; remote?: boolean }
  }
  throw new Error('expected the promise to reject')
}

function to(host: TransportHost) {
  return { peerId: host.peerId, addrs: directAddrs(host) }
}

/** A handler that records what it stored and answers 'duplicate' for ids seen before. */
function store() {
  const seen = new Map<string, { payload: Uint8Array; from: EnvelopeSender }>()
  const handler = async (env: { id: string; payload: Uint8Array }, from: EnvelopeSender): Promise<EnvelopeResult> => {
    if (seen.has(env.id)) return 'duplicate'
    seen.set(env.id, { payload: env.payload.slice(), from })
    return 'stored'
  }
  return { seen, handler }
}

describe('message exchange', () => {
  test('two hosts exchange envelopes with ACKs both ways over one stream', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const sa = store()
    const sb = store()
    a.onEnvelope(sa.handler)
    b.onEnvelope(sb.handler)

    const r1 = await a.send(to(b), { id: 'a-1', payload: payload('hello b') })
    expect(r1.status).toBe('stored')
    expect(r1.connection).toBe('direct')
    expect(r1.rtt).toBeGreaterThanOrEqual(0)
    // b answers without addresses: it reuses the verified inbound stream from a
    const r2 = await b.send({ peerId: a.peerId }, { id: 'b-1', payload: payload('hello a') })
    expect(r2.status).toBe('stored')

    const atB = sb.seen.get('a-1')!
    expect(new TextDecoder().decode(atB.payload)).toBe('hello b')
    expect(atB.from).toMatchObject({
      peerId: a.peerId,
      accountId: a.device.account.id,
      deviceId: a.device.device.id,
      deviceKey: a.device.device.signer,
      accountKey: a.device.account.signer,
      deviceName: 'test device',
      connection: 'direct',
    })
    expect(sa.seen.get('b-1')!.from).toMatchObject({ peerId: b.peerId, accountId: b.device.account.id })
    expect(a.streamCount).toBe(1)
    expect(b.streamCount).toBe(1)
  })

  test('many envelopes in flight at once, pipelined on one stream', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const sb = store()
    b.onEnvelope(async (env, from) => {
      // finish out of order so ACKs overtake each other
      await new Promise((r) => setTimeout(r, Math.random() * 5))
      return sb.handler(env, from)
    })
    const n = 300
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => a.send(to(b), { id: `m-${i}`, payload: payload(`body ${i}`) })),
    )
    expect(results.every((r) => r.status === 'stored')).toBe(true)
    expect(sb.seen.size).toBe(n)
    for (let i = 0; i < n; i++) expect(new TextDecoder().decode(sb.seen.get(`m-${i}`)!.payload)).toBe(`body ${i}`)
    expect(a.streamCount).toBe(1)
  })

  test('duplicate status passes through to the sender', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(store().handler)
    expect((await a.send(to(b), { id: 'same', payload: payload('1') })).status).toBe('stored')
    expect((await a.send(to(b), { id: 'same', payload: payload('1') })).status).toBe('duplicate')
    // concurrent sends of one id get one ACK each, in order
    const both = await Promise.all([
      a.send(to(b), { id: 'twice', payload: payload('x') }),
      a.send(to(b), { id: 'twice', payload: payload('x') }),
    ])
    expect(both.map((r) => r.status).sort()).toEqual(['duplicate', 'stored'])
  })

  test('a rejected envelope gives RejectedError with the reason', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(async () => ({ rejected: 'not a contact' }))
    const err = await failure(a.send(to(b), { id: 'r-1', payload: payload('spam') }))
    expect(err.name).toBe('RejectedError')
    expect(err.code).toBe('rejected')
    expect(err.reason).toBe('not a contact')
    // the stream stays usable
    b.onEnvelope(async () => 'stored')
    expect((await a.send(to(b), { id: 'r-2', payload: payload('ok') })).status).toBe('stored')
    expect(a.streamCount).toBe(1)
  })

  test('large payloads with back-pressure and a slow receiver (bounded handler concurrency)', async () => {
    const a = await pool.host()
    const b = await pool.host({ maxInFlight: 2 })
    let running = 0
    let maxRunning = 0
    let bytes = 0
    b.onEnvelope(async (env) => {
      running++
      maxRunning = Math.max(maxRunning, running)
      await new Promise((r) => setTimeout(r, 10))
      bytes += env.payload.length
      running--
      return 'stored'
    })
    const big = new Uint8Array(200 * 1024).fill(7)
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => a.send(to(b), { id: `big-${i}`, payload: big }, { timeoutMs: 20_000 })),
    )
    expect(results.every((r) => r.status === 'stored')).toBe(true)
    // exactly once each: the paused stream was never reset (which would resend what was in flight)
    expect(bytes).toBe(60 * big.length)
    expect(maxRunning).toBeLessThanOrEqual(2)
  })

  test('an idle stream is closed and the next send opens a new one', async () => {
    const a = await pool.host({ idleTimeoutMs: 200 })
    const b = await pool.host({ idleTimeoutMs: 200 })
    b.onEnvelope(store().handler)
    await a.send(to(b), { id: 'i-1', payload: payload('1') })
    expect(a.streamCount).toBe(1)
    await waitUntil(() => a.streamCount === 0 && b.streamCount === 0, 5_000, 'idle close')
    expect((await a.send(to(b), { id: 'i-2', payload: payload('2') })).status).toBe('stored')
    expect(a.streamCount).toBe(1)
  })

  test('renewed credentials are used by new streams', async () => {
    const a = await pool.host({ idleTimeoutMs: 200 })
    const b = await pool.host()
    const names: string[] = []
    b.onEnvelope(async (_env, from) => {
      names.push(from.deviceName)
      return 'stored'
    })
    await a.send(to(b), { id: 'c-1', payload: payload('1') })
    const renewed: Device = makeDevice({ account: a.device.account, name: 'renewed' })
    a.setCredentials(credentialsFor(renewed, a.peerId))
    await waitUntil(() => a.streamCount === 0, 5_000, 'idle close')
    await a.send(to(b), { id: 'c-2', payload: payload('2') })
    expect(names).toEqual(['test device', 'renewed'])
  })

  test('a throwing handler is never acknowledged: the sender gets a retryable UnreachableError', async () => {
    const a = await pool.host()
    const b = await pool.host()
    let calls = 0
    b.onEnvelope(async () => {
      calls++
      throw new Error('disk full')
    })
    const err = await failure(a.send(to(b), { id: 'x-1', payload: payload('1') }))
    expect(err.name).toBe('UnreachableError')
    expect(err.code).toBe('unreachable')
    // resent once on a new stream (idempotent by id), then given up
    expect(calls).toBe(2)
    // the receiver still works once its handler does
    b.onEnvelope(async () => 'stored')
    expect((await a.send(to(b), { id: 'x-1', payload: payload('1') })).status).toBe('stored')
  })

  test('a handler that answers without a promise is ACKed the same way, and fails the same way', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const seen = new Set<string>()
    b.onEnvelope((env) => {
      if (seen.has(env.id)) return 'duplicate'
      seen.add(env.id)
      return env.id.startsWith('spam') ? { rejected: 'not a contact' } : 'stored'
    })
    expect((await a.send(to(b), { id: 'i-1', payload: payload('1') })).status).toBe('stored')
    expect((await a.send(to(b), { id: 'i-1', payload: payload('1') })).status).toBe('duplicate')
    // eight at once: each gets its own ACK (the ACKs after the first of a turn are batched)
    const ids = Array.from({ length: 8 }, (_, i) => `i-burst-${i}`)
    const burst = await Promise.all(ids.map((id) => a.send(to(b), { id, payload: payload(id) })))
    expect(burst.map((r) => r.status)).toEqual(ids.map(() => 'stored'))
    expect((await failure(a.send(to(b), { id: 'spam-1', payload: payload('x') }))).reason).toBe('not a contact')
    // a throw and an answer that is no EnvelopeResult are never ACKed, as a rejected promise is not
    let calls = 0
    b.onEnvelope(() => {
      calls++
      throw new Error('disk full')
    })
    expect((await failure(a.send(to(b), { id: 'i-2', payload: payload('2') }))).name).toBe('UnreachableError')
    expect(calls).toBe(2)
    b.onEnvelope((() => 'kept') as unknown as () => 'stored')
    expect((await failure(a.send(to(b), { id: 'i-3', payload: payload('3') }))).name).toBe('UnreachableError')
    // a thenable that is not a Promise is waited for
    // biome-ignore lint/suspicious/noThenProperty: the point is a thenable that is not a Promise
    b.onEnvelope((() => ({ then: (ok: (r: 'stored') => void) => ok('stored') })) as unknown as () => 'stored')
    expect((await a.send(to(b), { id: 'i-4', payload: payload('4') })).status).toBe('stored')
  })
})

describe('handshake', () => {
  /** a sends to b with the given credentials on a; returns the error a gets. */
  async function refusedWith(setup: (a: TransportHost & { device: Device }) => void, bInit = {}) {
    const a = await pool.host()
    const b = await pool.host(bInit)
    let delivered = 0
    b.onEnvelope(async () => {
      delivered++
      return 'stored'
    })
    setup(a)
    const err = await failure(a.send(to(b), { id: 'h-1', payload: payload('1') }))
    expect(delivered).toBe(0)
    expect(b.streamCount).toBe(0)
    return err
  }

  test('forged binding (signed by another device) is refused', async () => {
    const err = await refusedWith((a) => {
      const other = generateKeyPair()
      a.setCredentials({ deviceCert: a.device.cert, peerBinding: makeBinding(a.device, a.peerId, other) })
    })
    expect(err.name).toBe('HandshakeFailedError')
    expect(err.code).toBe('handshake_failed')
    expect(err.remote).toBe(true)
    expect(err.reason).toMatch(/^wrong_signer: /)
  })

  test('a binding for another PeerId is refused', async () => {
    const other = await pool.host()
    const err = await refusedWith((a) => {
      a.setCredentials({ deviceCert: a.device.cert, peerBinding: makeBinding(a.device, other.peerId) })
    })
    expect(err.name).toBe('HandshakeFailedError')
    expect(err.reason).toMatch(/^wrong_signer: .*peerId/)
  })

  test('a device revoked by the receiver policy (isRevoked) is refused', async () => {
    const checked: string[] = []
    const err = await refusedWith(() => {}, {
      isRevoked: async (accountId: string, deviceId: string) => {
        checked.push(`${accountId}/${deviceId}`)
        return true
      },
    })
    expect(err.name).toBe('RevokedError')
    expect(err.code).toBe('revoked')
    expect(err.remote).toBe(true)
    expect(err.reason).toMatch(/^revoked: /)
    expect(checked).toHaveLength(1)
  })

  test('a device listed in its own account revocations record is refused', async () => {
    const err = await refusedWith((a) => {
      a.setCredentials({
        ...credentialsFor(a.device, a.peerId),
        revocations: makeRevocations(a.device.account, [a.device.device.id]),
      })
    })
    expect(err.name).toBe('RevokedError')
    expect(err.reason).toMatch(/^revoked: /)
  })

  test('an expired device certificate is refused', async () => {
    const err = await refusedWith((a) => {
      const now = Date.now()
      const expired = makeDevice({ issuedAt: now - 7_200_000, expiresAt: now - 3_600_000 })
      a.setCredentials(credentialsFor(expired, a.peerId))
    })
    expect(err.name).toBe('HandshakeFailedError')
    expect(err.reason).toMatch(/^expired: /)
  })

  test('a failing revocation check refuses (fails closed)', async () => {
    const err = await refusedWith(() => {}, {
      isRevoked: () => {
        throw new Error('db down')
      },
    })
    expect(err.reason).toBe('revocation check failed')
  })

  test('the sender refuses a receiver with a bad chain', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(async () => 'stored')
    const other = generateKeyPair()
    b.setCredentials({ deviceCert: b.device.cert, peerBinding: makeBinding(b.device, b.peerId, other) })
    const err = await failure(a.send(to(b), { id: 'h-2', payload: payload('1') }))
    expect(err.name).toBe('HandshakeFailedError')
    expect(err.remote).toBe(false)
    expect(err.reason).toMatch(/^wrong_signer: /)
  })

  test('a receiver without credentials refuses; a sender without credentials cannot send', async () => {
    const a = await pool.host()
    const b = await pool.host({}, { withCredentials: false })
    const err = await failure(a.send(to(b), { id: 'n-1', payload: payload('1') }))
    expect(err.name).toBe('HandshakeFailedError')
    expect(err.reason).toMatch(/no credentials/)
    const err2 = await failure(b.send(to(a), { id: 'n-2', payload: payload('1') }))
    expect(err2.name).toBe('NoCredentialsError')
    expect(err2.code).toBe('no_credentials')
  })
})

describe('send failures', () => {
  test('an unreachable peer gives UnreachableError', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const addrs = directAddrs(b)
    await b.stop()
    const err = await failure(a.send({ peerId: b.peerId, addrs }, { id: 'u-1', payload: payload('1') }))
    expect(err.name).toBe('UnreachableError')
    expect(err.code).toBe('unreachable')
    // a peer nobody knows an address of
    const c = await pool.host()
    const cId = c.peerId
    await c.stop()
    expect((await failure(a.send({ peerId: cId }, { id: 'u-2', payload: payload('1') }))).name).toBe('UnreachableError')
  })

  test('a peer none of whose addresses answers: the error names why each dial failed, not only that all did', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const bId = b.peerId
    await b.stop()
    // two loopback ports nothing listens on (each bound, then closed)
    const ports = await Promise.all([closedPort(), closedPort()])
    const addrs = ports.map((p) => `/ip4/127.0.0.1/tcp/${p}/p2p/${bId}`)
    const err = await failure(a.send({ peerId: bId, addrs }, { id: 'u-3', payload: payload('1') }))
    expect(err.name).toBe('UnreachableError')
    expect(err.message).toContain('All multiaddr dials failed (')
    for (const p of ports) expect(err.message).toContain(`127.0.0.1:${p}`)
  })

  test('a peer that does not speak /baran/msg/1.0.0 is unreachable', async () => {
    const a = await pool.host()
    const b = await pool.host()
    await b.libp2p.unhandle(PROTOCOL)
    const err = await failure(a.send(to(b), { id: 'np-1', payload: payload('1') }))
    expect(err.name).toBe('UnreachableError')
    expect(err.message).toMatch(/could not negotiate/)
  })

  test('no ACK within timeoutMs gives TimeoutError; an aborted signal gives AbortedError', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(() => new Promise<EnvelopeResult>(() => {}))
    const err = await failure(a.send(to(b), { id: 't-1', payload: payload('1') }, { timeoutMs: 300 }))
    expect(err.name).toBe('TimeoutError')
    expect(err.code).toBe('timeout')
    const ctl = new AbortController()
    setTimeout(() => ctl.abort(), 50)
    const err2 = await failure(a.send(to(b), { id: 't-2', payload: payload('1') }, { signal: ctl.signal }))
    expect(err2.name).toBe('AbortedError')
    expect(err2.code).toBe('aborted')
  })

  test('bad envelopes and targets are refused before anything is sent', async () => {
    const a = await pool.host()
    const b = await pool.host()
    const cases: Array<[Promise<unknown>, string]> = [
      [a.send(to(b), { id: '', payload: payload('1') }), 'InvalidEnvelopeError'],
      [a.send(to(b), { id: 'x'.repeat(65), payload: payload('1') }), 'InvalidEnvelopeError'],
      [a.send(to(b), { id: 'big', payload: new Uint8Array(256 * 1024) }), 'InvalidEnvelopeError'],
      [a.send(to(b), { id: 'p', payload: 'text' as unknown as Uint8Array }), 'InvalidEnvelopeError'],
      [a.send({ peerId: 'not-a-peer' }, { id: 'p', payload: payload('1') }), 'InvalidArgumentError'],
      [a.send({ peerId: b.peerId, addrs: ['nonsense'] }, { id: 'p', payload: payload('1') }), 'InvalidArgumentError'],
      [a.send({ peerId: a.peerId }, { id: 'p', payload: payload('1') }), 'InvalidArgumentError'],
      [a.send(to(b), { id: 'p', payload: payload('1') }, { timeoutMs: -1 }), 'InvalidArgumentError'],
    ]
    for (const [p, name] of cases) expect((await failure(p)).name).toBe(name)
    expect(a.streamCount).toBe(0)
  })

  test('stop() fails pending sends with HostStoppedError and later sends too', async () => {
    const a = await pool.host()
    const b = await pool.host()
    b.onEnvelope(() => new Promise<EnvelopeResult>(() => {}))
    const pending = failure(a.send(to(b), { id: 's-1', payload: payload('1') }))
    await waitUntil(() => b.streamCount === 1, 5_000, 'stream open')
    await a.stop()
    const err = await pending
    expect(err.name).toBe('HostStoppedError')
    expect(err.code).toBe('stopped')
    expect((await failure(a.send(to(b), { id: 's-2', payload: payload('1') }))).name).toBe('HostStoppedError')
    await a.stop() // idempotent
  })
})

/** A loopback TCP port that was free a moment ago and has no listener now. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
