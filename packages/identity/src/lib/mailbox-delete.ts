/**
 * Delete and fetch requests for this device's DHT mailbox (docs/mailbox.md): signed with the device key, which never
 * leaves the identity actor. Only a mailbox of this device (this epoch, the one before or after: what a storing node
 * accepts) is signed, so a caller cannot use the device key to delete or read another device's items.
 */
import { mailboxDeleteSigningBytes, mailboxEpoch, mailboxFetchSigningBytes, mailboxId, type SignedRecord, signDetached } from '@baran/trust'
import { InvalidArgumentError } from './errors.ts'

export interface MailboxDeleteRequest {
  v: 1
  mailbox: string
  items: string[]
  at: number
  deviceCert: SignedRecord
  sig: string
}

/** Signs a delete of `items` in `mailbox` as this device; InvalidArgumentError when the mailbox is not this device's. */
export function signMailboxDelete(
  keys: { deviceId: string; deviceCert: SignedRecord; deviceSecretKey: Uint8Array },
  req: { mailbox: string; items: string[]; at?: number },
  now = Date.now(),
): MailboxDeleteRequest {
  const at = req.at ?? now
  checkOwnMailbox(keys.deviceId, req.mailbox, at)
  const body = { v: 1 as const, mailbox: req.mailbox, items: [...req.items], at }
  return { ...body, deviceCert: keys.deviceCert, sig: signDetached(mailboxDeleteSigningBytes(body), keys.deviceSecretKey) }
}

export interface MailboxFetchRequest {
  v: 1
  mailbox: string
  at: number
  deviceCert: SignedRecord
  sig: string
}

/** Signs a request to read `mailbox` as this device (storing nodes answer only that); InvalidArgumentError when it is not this device's. */
export function signMailboxFetch(
  keys: { deviceId: string; deviceCert: SignedRecord; deviceSecretKey: Uint8Array },
  req: { mailbox: string; at?: number },
  now = Date.now(),
): MailboxFetchRequest {
  const at = req.at ?? now
  checkOwnMailbox(keys.deviceId, req.mailbox, at)
  const body = { v: 1 as const, mailbox: req.mailbox, at }
  return { ...body, deviceCert: keys.deviceCert, sig: signDetached(mailboxFetchSigningBytes(body), keys.deviceSecretKey) }
}

function checkOwnMailbox(deviceId: string, mailbox: string, at: number): void {
  const e = mailboxEpoch(at)
  if (![e - 1, e, e + 1].some((epoch) => epoch >= 0 && mailboxId(deviceId, epoch) === mailbox)) {
    throw new InvalidArgumentError(`mailbox ${mailbox} is not a mailbox of this device (${deviceId})`)
  }
}
