import { randomBytes } from 'node:crypto'
import { MAX_ENVELOPE_BYTES, sealEnvelope } from '@baran/trust'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { AT_REST_KIND, atRestKey, isAtRest, openAtRest, sealAtRest } from '../src/lib/at-rest.ts'
import { EnvelopeService } from '../src/lib/envelopes.ts'
import { ReplayWindow } from '../src/lib/replay-window.ts'
import { SealedKeyring } from '../src/lib/store.ts'
import { TempDirs } from './helpers.ts'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

const DEVICE = 'ab'.repeat(20)
const OTHER = 'cd'.repeat(20)
const key = atRestKey(randomBytes(32), DEVICE)
const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

async function device(name: string) {
  const store = new SealedKeyring({ dir: await dirs.make() })
  await store.load()
  await store.createAccount({ deviceName: name })
  const service = new EnvelopeService({ store, replay: new ReplayWindow({ dir: await dirs.make() }) })
  return { store, service, keys: await store.envelopeKeys() }
}

describe('bodies at rest (the format)', () => {
  it('round-trips any id, time and payload (property); the header is in the clear, the payload is not', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,64}$/), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ maxLength: 2048 }), (id, sentAt, payload) => {
        const sealed = sealAtRest(key, DEVICE, { id, sentAt, payload })
        expect(isAtRest(sealed)).toBe(true)
        expect(sealed[0]).toBe(AT_REST_KIND)
        expect(sealed.length).toBe(1 + 20 + 1 + id.length + 8 + 12 + payload.length + 16)
        expect(openAtRest(key, DEVICE, sealed)).toEqual({ id, sentAt, payload })
      }),
      { numRuns: 200 },
    )
    const sealed = sealAtRest(key, DEVICE, { id: 'm1', sentAt: 1, payload: utf8('secret words') })
    expect(Buffer.from(sealed).includes('secret')).toBe(false)
    // Two seals of the same body differ (a random nonce each).
    expect(Buffer.from(sealAtRest(key, DEVICE, { id: 'm1', sentAt: 1, payload: utf8('secret words') })).equals(Buffer.from(sealed))).toBe(false)
  })

  it('any changed byte is refused (header: the tag covers it; ciphertext: it does not authenticate), never opened wrongly', () => {
    const sealed = sealAtRest(key, DEVICE, { id: 'msg-1', sentAt: 1_700_000_000_000, payload: utf8('hello') })
    for (let i = 0; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed)
      bad[i]! ^= 0x01
      const err = (() => {
        try {
          openAtRest(key, DEVICE, bad)
          return undefined
        } catch (e) {
          return e as { reason?: string }
        }
      })()
      expect(err?.reason, `byte ${i}`).toMatch(/^(malformed|not-for-this-device|bad-signature)$/)
    }
  })

  it('refuses another device, another key, garbage, truncation and oversize with typed reasons', () => {
    const sealed = sealAtRest(key, DEVICE, { id: 'm', sentAt: 5, payload: utf8('x') })
    expect(() => openAtRest(key, OTHER, sealed)).toThrow(expect.objectContaining({ reason: 'not-for-this-device' }))
    expect(() => openAtRest(atRestKey(randomBytes(32), DEVICE), DEVICE, sealed)).toThrow(expect.objectContaining({ reason: 'bad-signature' }))
    for (const junk of [new Uint8Array(0), utf8('junk'), sealed.subarray(0, 30), sealed.subarray(0, sealed.length - 1), Uint8Array.of(1, ...sealed.subarray(1))]) {
      expect(() => openAtRest(key, DEVICE, junk)).toThrow(expect.objectContaining({ reason: expect.stringMatching(/^(malformed|bad-signature)$/) }))
    }
    expect(() => openAtRest(key, DEVICE, new Uint8Array(MAX_ENVELOPE_BYTES + 1).fill(AT_REST_KIND))).toThrow(expect.objectContaining({ reason: 'too-large' }))
    expect(() => sealAtRest(key, DEVICE, { id: 'm', sentAt: 5, payload: new Uint8Array(MAX_ENVELOPE_BYTES) })).toThrow(expect.objectContaining({ reason: 'too-large' }))
    expect(() => sealAtRest(key, DEVICE, { id: 'bad id', sentAt: 5, payload: utf8('x') })).toThrow(expect.objectContaining({ reason: 'malformed' }))
    expect(() => sealAtRest(key, 'not-hex', { id: 'm', sentAt: 5, payload: utf8('x') })).toThrow(expect.objectContaining({ reason: 'malformed' }))
  })
})

describe('EnvelopeService: sealed to this device alone', () => {
  it('is a body at rest that opens again and again with this device as its verified sender, and never enters the replay window', async () => {
    const me = await device('laptop')
    const { envelope, recipients } = await me.service.seal('01JATREST00000000000000001', utf8('kept'), [], { self: true })
    expect(isAtRest(envelope)).toBe(true)
    expect(recipients).toEqual([me.keys.deviceId])
    for (let i = 0; i < 3; i++) {
      const opened = await me.service.open(envelope)
      expect(text(opened.payload)).toBe('kept')
      expect(opened).toMatchObject({ id: '01JATREST00000000000000001', sender: { deviceId: me.keys.deviceId, accountId: me.store.info().accountId }, senderCert: me.keys.deviceCert })
    }
    // Another device of another account cannot open it, and says why.
    const other = await device('phone')
    await expect(other.service.open(envelope)).rejects.toMatchObject({ reason: 'not-for-this-device' })
  })

  it('still opens the signed envelopes earlier versions kept at rest', async () => {
    const me = await device('laptop')
    const { encKey } = me.keys.deviceCert.body as { accountId: string; encKey: string }
    const old = await sealEnvelope({
      id: 'old-1',
      payload: utf8('from before'),
      sender: { deviceCert: me.keys.deviceCert, deviceSecretKey: me.keys.deviceSecretKey },
      recipients: [{ accountId: me.store.info().accountId, deviceId: me.keys.deviceId, encKey }],
    })
    expect(isAtRest(old)).toBe(false)
    for (let i = 0; i < 2; i++) expect(text((await me.service.open(old, { skipReplayWindow: true })).payload)).toBe('from before')
  })

  it('is refused as too large exactly where an envelope of the same payload to one device would be', async () => {
    const me = await device('laptop')
    const other = await device('phone')
    const fits = async (n: number, to: 'self' | 'device') => {
      const payload = new Uint8Array(n)
      const sealed = to === 'self' ? me.service.seal('size', payload, [], { self: true }) : me.service.seal('size', payload, [other.keys.deviceCert])
      return sealed.then(
        () => true,
        (e: { reason?: string }) => {
          if (e.reason !== 'too-large') throw e
          return false
        },
      )
    }
    // The largest payload an envelope to one device takes: found by bisection, then the same at rest.
    let lo = MAX_ENVELOPE_BYTES - 4096
    let hi = MAX_ENVELOPE_BYTES
    while (lo + 1 < hi) {
      const mid = (lo + hi) >> 1
      if (await fits(mid, 'device')) lo = mid
      else hi = mid
    }
    expect(await fits(lo, 'self')).toBe(true)
    expect(await fits(lo + 1, 'self')).toBe(false)
  })
})
