import { MAX_ENVELOPE_BYTES, signDetached } from '@baran/trust'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAILBOX_EPOCH_MS, MAILBOX_ITEM_TTL_MS } from '../src/index.ts'
import { MAILBOX_ITEM_OVERHEAD_BYTES, MAX_FRAME_BYTES } from '../src/lib/constants.ts'
import {
  checkDeleteRequest,
  checkDeposit,
  encodeDeleteRequest,
  mailboxEpoch,
  mailboxesOf,
  mailboxId,
  signDeleteRequest,
} from '../src/lib/mailbox-item.ts'
import { checkFetchRequest, encodeFetchRequest, type FetchRequest, signFetchRequest } from '../src/lib/mailbox-fetch-auth.ts'
import { decodeFetchReply, encodeFetchReply } from '../src/lib/mailbox-service.ts'
import { MailboxStore } from '../src/lib/mailbox-store.ts'
import { type MailDevice, mailDevice, sealTo } from './mailbox-fixtures.ts'

const named = (name: string) => expect.objectContaining({ name })
const DAY = 24 * 60 * 60 * 1000

let alice: MailDevice
let bob: MailDevice
let carol: MailDevice
let envelope: Uint8Array
let sentAt: number
let bobBox: string

beforeAll(async () => {
  ;[alice, bob, carol] = await Promise.all([mailDevice(), mailDevice(), mailDevice()])
  sentAt = Date.now()
  envelope = await sealTo(alice, [bob], { id: 'hello-1', sentAt })
  bobBox = mailboxId(bob.deviceId, mailboxEpoch(sentAt))
})

describe('mailbox keys', () => {
  it('are one per device and epoch, and a device reads this epoch and the previous one', () => {
    const e = mailboxEpoch(sentAt)
    expect(mailboxId(bob.deviceId, e)).toMatch(/^[0-9a-f]{40}$/)
    expect(mailboxId(bob.deviceId, e)).toBe(bobBox)
    expect(mailboxId(bob.deviceId, e + 1)).not.toBe(bobBox)
    expect(mailboxId(alice.deviceId, e)).not.toBe(bobBox)
    expect(mailboxesOf(bob.deviceId, sentAt)).toEqual([bobBox, mailboxId(bob.deviceId, e - 1)])
    expect(mailboxesOf(bob.deviceId, sentAt + MAILBOX_EPOCH_MS)).toContain(bobBox)
  })

  it('are refused for a malformed device ID or epoch as an invalid key (epoch 0 has no previous one)', () => {
    for (const bad of [() => mailboxId('B0B', 1), () => mailboxId(bob.deviceId, -1), () => mailboxId(bob.deviceId, 1.5), () => mailboxesOf('not hex', sentAt)]) {
      expect(bad).toThrow(expect.objectContaining({ name: 'InvalidKeyError', code: 'invalid_key' }))
    }
    expect(mailboxesOf(bob.deviceId, 0)).toEqual([mailboxId(bob.deviceId, 0)])
  })
})

describe('a deposit, as a storing node checks it', () => {
  it('is accepted for a recipient’s mailbox, with what anti-abuse needs and no more', () => {
    const item = checkDeposit(bobBox, envelope, { now: sentAt })
    expect(item).toMatchObject({ mailbox: bobBox, senderAccount: alice.account.id, senderDevice: alice.deviceId, envelopeId: 'hello-1', sentAt, expiresAt: sentAt + MAILBOX_ITEM_TTL_MS })
    expect(item.hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('is refused when forged: any flipped byte, garbage, a truncated envelope', () => {
    for (const at of [1, 20, 200, envelope.length - 80, envelope.length - 1]) {
      const bad = new Uint8Array(envelope)
      bad[at] = (bad[at] as number) ^ 0x40
      expect(() => checkDeposit(bobBox, bad, { now: sentAt })).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(mailbox_forged|wrong_mailbox|mailbox_item_expired)$/) }))
    }
    const sig = new Uint8Array(envelope)
    sig[sig.length - 1] = (sig[sig.length - 1] as number) ^ 1
    expect(() => checkDeposit(bobBox, sig, { now: sentAt })).toThrow(named('ForgedEnvelopeError'))
    expect(() => checkDeposit(bobBox, envelope.subarray(0, 300), { now: sentAt })).toThrow(named('ForgedEnvelopeError'))
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(() => checkDeposit(bobBox, bytes, { now: sentAt })).toThrow(named('ForgedEnvelopeError'))
      }),
      { numRuns: 100 },
    )
  })

  it('is refused for a mailbox that is not one of its recipients’ for the epoch of its sentAt', () => {
    const e = mailboxEpoch(sentAt)
    expect(() => checkDeposit(mailboxId(carol.deviceId, e), envelope, { now: sentAt })).toThrow(named('WrongMailboxError'))
    expect(() => checkDeposit(mailboxId(alice.deviceId, e), envelope, { now: sentAt })).toThrow(named('WrongMailboxError'))
    expect(() => checkDeposit(mailboxId(bob.deviceId, e + 1), envelope, { now: sentAt })).toThrow(named('WrongMailboxError'))
  })

  it('is refused once 7 days have passed, or when sent in the future', () => {
    expect(() => checkDeposit(bobBox, envelope, { now: sentAt + MAILBOX_ITEM_TTL_MS })).toThrow(named('MailboxItemExpiredError'))
    expect(checkDeposit(bobBox, envelope, { now: sentAt + MAILBOX_ITEM_TTL_MS - 1 }).hash).toMatch(/^[0-9a-f]{64}$/)
    expect(() => checkDeposit(bobBox, envelope, { now: sentAt - 61_000 })).toThrow(named('MailboxItemExpiredError'))
  })

  it('outlives its sender’s certificate: the chain is checked at sentAt', async () => {
    const brief = await mailDevice({ certTtlMs: 60 * 60 * 1000 })
    const env = await sealTo(brief, [bob], { sentAt })
    expect(checkDeposit(bobBox, env, { now: sentAt + 3 * DAY }).senderDevice).toBe(brief.deviceId)
  })

  it('is refused over 64 KiB before it is decoded', () => {
    expect(() => checkDeposit(bobBox, new Uint8Array(MAX_ENVELOPE_BYTES + 1), { now: sentAt })).toThrow(named('MailboxItemTooLargeError'))
  })
})

describe('the mailbox store', () => {
  const cost = (env: Uint8Array) => env.length + MAILBOX_ITEM_OVERHEAD_BYTES

  it('keeps a deposit once, and refuses another envelope with the same sender device and ID (a replay)', async () => {
    const store = new MailboxStore()
    const item = checkDeposit(bobBox, envelope)
    expect(store.add(item)).toBe(true)
    expect(store.add(item)).toBe(false)
    const again = await sealTo(alice, [bob], { id: 'hello-1', sentAt })
    expect(() => store.add(checkDeposit(bobBox, again))).toThrow(named('MailboxReplayError'))
    expect(store.list(bobBox).map((i) => i.hash)).toEqual([item.hash])
    expect(store.figures()).toMatchObject({ items: 1, bytes: cost(envelope), refusals: { replayed: 1 } })
  })

  it('refuses a sender over its quota and a mailbox over its quota; a flood from one sender evicts nothing and stays in the bound', async () => {
    const fromCarol = checkDeposit(bobBox, await sealTo(carol, [bob], { bytes: 1000 }))
    const flood = await Promise.all(Array.from({ length: 12 }, () => sealTo(alice, [bob], { bytes: 1000 })))
    const one = cost(flood[0] as Uint8Array)
    const store = new MailboxStore({ maxBytes: 8 * one, maxBytesPerSender: 4 * one, maxBytesPerMailbox: 6 * one + 100 })
    store.add(fromCarol)
    const refused: string[] = []
    for (const env of flood) {
      try {
        store.add(checkDeposit(bobBox, env))
      } catch (err) {
        refused.push((err as Error).name)
      }
    }
    expect(refused).toHaveLength(8)
    expect(new Set(refused)).toEqual(new Set(['SenderQuotaError']))
    expect(store.has(bobBox, fromCarol.hash)).toBe(true)
    expect(store.figures().bytes).toBeLessThanOrEqual(8 * one)
    // Other senders fill Bob's mailbox to its quota, then are refused for it.
    const others = await Promise.all(Array.from({ length: 3 }, async () => sealTo(await mailDevice(), [bob], { bytes: 1000 })))
    const names = others.map((env) => {
      try {
        store.add(checkDeposit(bobBox, env))
        return 'stored'
      } catch (err) {
        return (err as Error).name
      }
    })
    expect(names).toEqual(['stored', 'MailboxQuotaError', 'MailboxQuotaError'])
    expect(store.figures()).toMatchObject({ items: 6, refusals: { senderQuota: 8, mailboxQuota: 2 } })
  })

  it('refuses when full (many senders, many mailboxes) and never passes its byte bound', async () => {
    const recipients = await Promise.all(Array.from({ length: 6 }, () => mailDevice()))
    const first = checkDeposit(mailboxId(recipients[0]!.deviceId, mailboxEpoch(sentAt)), await sealTo(carol, [recipients[0]!], { bytes: 2000, sentAt }))
    const store = new MailboxStore({ maxBytes: 5 * cost(first.envelope) })
    store.add(first)
    const names: string[] = []
    for (const r of recipients.slice(1)) {
      for (let i = 0; i < 2; i++) {
        const env = await sealTo(await mailDevice(), [r], { bytes: 2000, sentAt })
        try {
          store.add(checkDeposit(mailboxId(r.deviceId, mailboxEpoch(sentAt)), env))
          names.push('stored')
        } catch (err) {
          names.push((err as Error).name)
        }
        expect(store.figures().bytes).toBeLessThanOrEqual(store.limits.maxBytes)
      }
    }
    expect(names.filter((n) => n === 'stored')).toHaveLength(4)
    expect(names.filter((n) => n === 'MailboxStoreFullError')).toHaveLength(6)
    expect(store.has(first.mailbox, first.hash)).toBe(true)
  })

  it('prechecks before verifying: held bytes need nothing more, a full mailbox or store refuses whatever the bytes', () => {
    const item = checkDeposit(bobBox, envelope)
    const store = new MailboxStore({ maxBytes: cost(envelope) + 100, maxBytesPerMailbox: cost(envelope) + 50 })
    expect(store.precheck(bobBox, item.hash, envelope.length)).toBe(false)
    store.add(item)
    expect(store.precheck(bobBox, item.hash, envelope.length, 'peer-a')).toBe(true)
    expect(() => store.precheck(bobBox, 'f'.repeat(64), 100)).toThrow(named('MailboxQuotaError'))
    expect(() => store.precheck(mailboxId(carol.deviceId, 1), 'f'.repeat(64), 100)).toThrow(named('MailboxStoreFullError'))
    expect(store.figures().refusals).toMatchObject({ mailboxQuota: 1, storeFull: 1 })
  })

  it('drops items at sentAt + 7 days', () => {
    let now = sentAt
    const store = new MailboxStore({}, () => now)
    store.add(checkDeposit(bobBox, envelope, { now }))
    now = sentAt + MAILBOX_ITEM_TTL_MS
    expect(store.list(bobBox)).toEqual([])
    expect(store.figures()).toMatchObject({ items: 0, bytes: 0 })
  })
})

describe('deleting', () => {
  it('works with a request the recipient device signed, and leaves a tombstone a replay cannot pass', () => {
    const store = new MailboxStore()
    const item = checkDeposit(bobBox, envelope)
    store.add(item)
    const request = signDeleteRequest({ mailbox: bobBox, items: [item.hash], deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey })
    expect(store.delete(checkDeleteRequest(encodeDeleteRequest(request)))).toBe(1)
    expect(store.list(bobBox)).toEqual([])
    expect(() => store.add(item)).toThrow(named('MailboxReplayError'))
    expect(store.figures()).toMatchObject({ items: 0, tombstones: 1 })
  })

  it('refuses forged requests: another device’s key, another device’s mailbox, an altered list, a stale time', () => {
    const hash = checkDeposit(bobBox, envelope).hash
    const check = (r: ReturnType<typeof signDeleteRequest>) => () => checkDeleteRequest(encodeDeleteRequest(r))
    // Bob's certificate, signed with Carol's key.
    const stolen = { ...signDeleteRequest({ mailbox: bobBox, items: [hash], deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey }), deviceCert: bob.cert }
    expect(check(stolen)).toThrow(named('BadDeleteRequestError'))
    // Carol, properly signed, for Bob's mailbox.
    expect(check(signDeleteRequest({ mailbox: bobBox, items: [hash], deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey }))).toThrow(named('BadDeleteRequestError'))
    const good = signDeleteRequest({ mailbox: bobBox, items: [hash], deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey })
    expect(check({ ...good, items: ['0'.repeat(64)] })).toThrow(named('BadDeleteRequestError'))
    expect(check(signDeleteRequest({ mailbox: bobBox, items: [hash], at: Date.now() - 10 * 60_000, deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey }))).toThrow(
      named('BadDeleteRequestError'),
    )
    expect(check({ ...good, sig: signDetached(new Uint8Array(3), bob.key.secretKey) })).toThrow(named('BadDeleteRequestError'))
    expect(() => checkDeleteRequest(new TextEncoder().encode('{"v":1}'))).toThrow(named('BadDeleteRequestError'))
    expect(check(good)().items).toEqual([hash])
  })
})

describe('fetch replies', () => {
  it('page a mailbox larger than a frame: every page fits, every item comes once, in order', async () => {
    const big = await Promise.all(Array.from({ length: 5 }, (_, i) => sealTo(alice, [bob], { bytes: 40_000 + i, sentAt })))
    const items = big.map((env) => checkDeposit(bobBox, env))
    const got: string[] = []
    let pages = 0
    for (let start = 0; pages < 10; pages++) {
      const bytes = encodeFetchReply(items, start)
      expect(bytes.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      const page = decodeFetchReply(bytes)
      expect(page.total).toBe(5)
      got.push(...page.envelopes.map((e) => checkDeposit(bobBox, new Uint8Array(e)).hash))
      if (page.next >= page.total) break
      expect(page.next).toBeGreaterThan(start)
      start = page.next
    }
    expect(pages).toBeGreaterThan(1)
    expect(got).toEqual(items.map((i) => i.hash))
    expect(() => decodeFetchReply(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 1]))).toThrow(named('InvalidKeyError'))
  })

  it('reads only with its device’s fetch request: another device’s key or mailbox, a stale time, an altered one, garbage', () => {
    const check = (r: FetchRequest, box = bobBox) => () => checkFetchRequest(encodeFetchRequest(r), box)
    const good = signFetchRequest({ mailbox: bobBox, deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey })
    expect(check(good)()).toMatchObject({ v: 1, mailbox: bobBox })
    // Bob's certificate, signed with Carol's key; Carol's own request for Bob's mailbox; Bob's for another mailbox.
    expect(check({ ...signFetchRequest({ mailbox: bobBox, deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey }), deviceCert: bob.cert })).toThrow(named('BadFetchRequestError'))
    expect(check(signFetchRequest({ mailbox: bobBox, deviceCert: carol.cert, deviceSecretKey: carol.key.secretKey }))).toThrow(named('BadFetchRequestError'))
    expect(check(good, mailboxId(carol.deviceId, mailboxEpoch(Date.now())))).toThrow(named('BadFetchRequestError'))
    expect(check(signFetchRequest({ mailbox: bobBox, at: Date.now() - 10 * 60_000, deviceCert: bob.cert, deviceSecretKey: bob.key.secretKey }))).toThrow(named('BadFetchRequestError'))
    expect(check({ ...good, at: good.at + 1 })).toThrow(named('BadFetchRequestError'))
    expect(check({ ...good, sig: signDetached(new Uint8Array(3), bob.key.secretKey) })).toThrow(named('BadFetchRequestError'))
    for (const garbage of ['{"v":1}', 'not json', '[]', JSON.stringify({ ...good, extra: 1 }), JSON.stringify({ ...good, at: 1.5 }), JSON.stringify({ ...good, at: 'now' })]) {
      expect(() => checkFetchRequest(new TextEncoder().encode(garbage), bobBox)).toThrow(named('BadFetchRequestError'))
    }
  })
})
