/**
 * DHT mailbox keys and the bytes delete and fetch requests sign (docs/mailbox.md), shared by the actors that need
 * them without importing each other: discovery stores and checks, identity signs, the outbox deposits and fetches.
 * @baran/discovery uses these too (its mailbox-item.ts turns a bad input into its InvalidKeyError).
 */
import { concatBytes, utf8 } from './bytes.ts'
import { canonicalEncode } from './canonical.ts'
import { isId } from './ids.ts'

/** One mailbox per device and week: items live 7 days from their sentAt. */
export const MAILBOX_EPOCH_MS = 7 * 24 * 60 * 60 * 1000
type NodeCrypto = typeof import('node:crypto')
// Node only (the browser UI has no use for mailbox keys): looked up lazily so importing @baran/trust stays portable.
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined
const MAILBOX_DOMAIN = 'baran.mailbox.v1\0'
const DELETE_DOMAIN = utf8('baran.mailbox.delete.v1\0')
const FETCH_DOMAIN = utf8('baran.mailbox.fetch.v1\0')

/** The epoch (week number since the Unix epoch) of a time. */
export function mailboxEpoch(at: number): number {
  return Math.floor(at / MAILBOX_EPOCH_MS)
}

/** The mailbox of a device for an epoch: hex of SHA-256("baran.mailbox.v1\0" ‖ deviceId ‖ "\0" ‖ epoch)[0..20]. Throws RangeError on a bad input. */
export function mailboxId(deviceId: string, epoch: number): string {
  if (!isId(deviceId)) throw new RangeError('deviceId must be 40 lowercase hex chars')
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError('epoch must be a non-negative integer')
  if (!nodeCrypto) throw new Error('mailbox keys need node:crypto')
  return nodeCrypto.createHash('sha256').update(utf8(`${MAILBOX_DOMAIN}${deviceId}\0${epoch}`)).digest().subarray(0, 20).toString('hex')
}

/** The mailboxes a device reads at `now`: this epoch's and the previous one's (none before epoch 0: a clock at 1970). */
export function mailboxesOf(deviceId: string, now = Date.now()): string[] {
  const e = mailboxEpoch(now)
  return e > 0 ? [mailboxId(deviceId, e), mailboxId(deviceId, e - 1)] : [mailboxId(deviceId, e)]
}

/** What the recipient device signs to delete items: "baran.mailbox.delete.v1\0" ‖ canonicalJSON({ v, mailbox, items, at }). */
export function mailboxDeleteSigningBytes(r: { v: 1; mailbox: string; items: string[]; at: number }): Uint8Array {
  return domainSeparated(DELETE_DOMAIN, { v: r.v, mailbox: r.mailbox, items: r.items, at: r.at })
}

/**
 * What the recipient device signs to read its mailbox: "baran.mailbox.fetch.v1\0" ‖ canonicalJSON({ v, mailbox, at }).
 * Storing nodes answer a fetch only with it: the items' headers name their senders, so an open fetch would tell
 * anyone who knows a device ID who writes to it.
 */
export function mailboxFetchSigningBytes(r: { v: 1; mailbox: string; at: number }): Uint8Array {
  return domainSeparated(FETCH_DOMAIN, { v: r.v, mailbox: r.mailbox, at: r.at })
}

function domainSeparated(domain: Uint8Array, body: Record<string, unknown>): Uint8Array {
  return concatBytes(domain, canonicalEncode(body))
}
