import {
  encryptionKeyPairFromSeed,
  envelopeRecipientOf,
  generateKeyPair,
  type KeyPair,
  type SignedRecord,
  sealEnvelope,
  signRecord,
  toBase64Url,
} from '@baran/trust'
import { randomBytes } from 'node:crypto'
import { type FetchRequest, signFetchRequest } from '../src/index.ts'

/** A device that can send and receive sealed envelopes: its account key, device key and version 2 certificate. */
export interface MailDevice {
  account: KeyPair
  key: KeyPair
  deviceId: string
  cert: SignedRecord
}

const DAY = 24 * 60 * 60 * 1000

/** A fresh device (of `account`, else of a fresh account) whose certificate is valid from `now` for `certTtlMs`. */
export async function mailDevice(opts: { account?: KeyPair; now?: number; certTtlMs?: number } = {}): Promise<MailDevice> {
  const account = opts.account ?? generateKeyPair()
  const key = generateKeyPair()
  const enc = await encryptionKeyPairFromSeed(new Uint8Array(randomBytes(32)))
  const now = opts.now ?? Date.now()
  const cert = signRecord(
    {
      type: 'device-cert',
      v: 2,
      seq: 0,
      issuedAt: now - 1000,
      expiresAt: now + (opts.certTtlMs ?? DAY),
      body: { accountId: account.id, deviceId: key.id, deviceKey: key.signer, name: 'test device', encKey: toBase64Url(enc.publicKey) },
    },
    account.secretKey,
  )
  return { account, key, deviceId: key.id, cert }
}

let counter = 0

/** An envelope from `sender` to `recipients` with a payload of `bytes` bytes. */
export function sealTo(sender: MailDevice, recipients: MailDevice[], opts: { id?: string; bytes?: number; sentAt?: number } = {}): Promise<Uint8Array> {
  const sentAt = opts.sentAt ?? Date.now()
  return sealEnvelope({
    id: opts.id ?? `msg-${++counter}-${Date.now()}`,
    payload: new Uint8Array(randomBytes(opts.bytes ?? 100)),
    sentAt,
    sender: { deviceCert: sender.cert, deviceSecretKey: sender.key.secretKey },
    recipients: recipients.map((r) => envelopeRecipientOf(r.cert, { now: sentAt })),
  })
}

/** A request to read `mailbox` signed by `device` (storing nodes answer a fetch only with its device's). */
export function fetchAuth(device: MailDevice, mailbox: string): FetchRequest {
  return signFetchRequest({ mailbox, deviceCert: device.cert, deviceSecretKey: device.key.secretKey })
}
