import { checkDeleteRequest, checkFetchRequest, encodeDeleteRequest, encodeFetchRequest, mailboxesOf as discoveryMailboxesOf, mailboxId as discoveryMailboxId } from '@baran/discovery'
import { signMailboxDelete, signMailboxFetch } from '@baran/identity'
import { generateKeyPair, mailboxesOf, mailboxId, MAILBOX_EPOCH_MS, signRecord } from '@baran/trust'
import { describe, expect, it } from 'vitest'

/**
 * The mailbox derivation lives twice (discovery's own, and @baran/trust's for identity and the outbox, which may not
 * import discovery): both must agree, and identity's delete and fetch requests must pass discovery's checks.
 */
function device() {
  const account = generateKeyPair()
  const key = generateKeyPair()
  const now = Date.now()
  const cert = signRecord(
    { type: 'device-cert', v: 1, seq: 0, issuedAt: now - 1000, expiresAt: now + 86_400_000, body: { accountId: account.id, deviceId: key.id, deviceKey: key.signer, name: 'd' } },
    account.secretKey,
  )
  return { deviceId: key.id, deviceCert: cert, deviceSecretKey: key.secretKey }
}

describe('mailbox keys shared by discovery, identity and the outbox', () => {
  it('derive the same mailbox IDs', () => {
    for (let i = 0; i < 20; i++) {
      const d = generateKeyPair().id
      const epoch = Math.floor(Math.random() * 10_000)
      expect(mailboxId(d, epoch)).toBe(discoveryMailboxId(d, epoch))
      const at = Math.floor(Math.random() * 1000 * MAILBOX_EPOCH_MS)
      expect(mailboxesOf(d, at)).toEqual(discoveryMailboxesOf(d, at))
    }
    // the first epoch has no previous one (a random `at` above landed there one time in a thousand and threw)
    const d = generateKeyPair().id
    for (const at of [0, MAILBOX_EPOCH_MS - 1, MAILBOX_EPOCH_MS]) expect(mailboxesOf(d, at)).toEqual(discoveryMailboxesOf(d, at))
    expect(mailboxesOf(d, 0)).toEqual([mailboxId(d, 0)])
    expect(mailboxesOf(d, MAILBOX_EPOCH_MS)).toEqual([mailboxId(d, 1), mailboxId(d, 0)])
  })

  it("identity's signed delete passes discovery's check; another device's mailbox is refused", () => {
    const me = device()
    const other = device()
    const [mine] = mailboxesOf(me.deviceId)
    const req = signMailboxDelete(me, { mailbox: mine!, items: ['a'.repeat(64)] })
    expect(checkDeleteRequest(encodeDeleteRequest(req)).items).toEqual(['a'.repeat(64)])
    expect(() => signMailboxDelete(me, { mailbox: mailboxesOf(other.deviceId)[0]!, items: ['a'.repeat(64)] })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
  })

  it("identity's signed fetch passes discovery's check; another device's mailbox is refused", () => {
    const me = device()
    const other = device()
    const [mine, last] = mailboxesOf(me.deviceId)
    for (const mailbox of [mine!, last!]) expect(checkFetchRequest(encodeFetchRequest(signMailboxFetch(me, { mailbox })), mailbox).mailbox).toBe(mailbox)
    expect(() => checkFetchRequest(encodeFetchRequest(signMailboxFetch(me, { mailbox: mine! })), mailboxesOf(other.deviceId)[0]!)).toThrow(
      expect.objectContaining({ name: 'BadFetchRequestError' }),
    )
    expect(() => signMailboxFetch(me, { mailbox: mailboxesOf(other.deviceId)[0]! })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
  })
})
