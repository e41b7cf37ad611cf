/**
 * Envelopes for the outbox, through the identity actor (which alone holds the keys): the body sealed to this device
 * at rest, the payload sealed to each recipient device when it goes out, and what arrives opened and verified.
 * Format and checks: docs/envelopes.md.
 */
import type { ActorContext } from '@baran/actor'
import { type Bus, discoveryLookupDevice, discoveryLookupDeviceList, ENVELOPE_MAX_BYTES, identityOpen, identitySeal, type ReplyOf, type SignedRecordWire } from '@baran/bus'
import { PayloadTooLargeError } from './lib/errors.ts'
import { whileIdentityRestarts } from './lib/identity-wait.ts'
import type { SealRequest } from './lib/engine-types.ts'
import type { KeptRecipients } from './lib/kept-recipients.ts'
import { encodePayload } from './lib/payload.ts'
import { RecentBodies } from './lib/recent-bodies.ts'
import { type OutgoingRecord, payloadOf } from './lib/records.ts'

/** How long a recipient device's certificate (from its presence record) is reused before it is looked up again. */
const CERT_TTL_MS = 5 * 60_000
/** How long a sender account's revocation list (from discovery) is used; an older one is refreshed in the background. */
const REVOCATIONS_TTL_MS = 60_000
/** Bounds of the two caches (a flood of senders or devices keeps memory bounded). */
const MAX_CACHED = 1024
/**
 * Bodies this outbox sealed to itself lately, by their sealed form: a send is delivered right after it is sealed at
 * rest, and opening it again through identity (a bus round trip and a chain verification) was a sixth of the
 * sender's CPU per message. Bounded in bytes and in age; what is not here is opened as before.
 */
const RECENT_BYTES = 8 * 1024 * 1024
const RECENT_MS = 10 * 60_000

/** Why an envelope is refused: the identity refusal codes (docs/envelopes.md), plus an ID transport gave otherwise. */
export type OpenRefusal = { status: 'rejected'; reason: string }
export interface OpenedPayload {
  id: string
  payload: Uint8Array
  sender: { accountId: string; deviceId: string }
}

const REFUSALS = new Set(['replayed', 'not_for_this_device', 'bad_signature', 'revoked_sender', 'malformed', 'too_large', 'invalid_request'])
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A map that forgets its oldest entry past `max`. */
class Bounded<V> extends Map<string, V> {
  readonly max: number
  constructor(max: number) {
    super()
    this.max = max
  }
  override set(k: string, v: V): this {
    this.delete(k)
    super.set(k, v)
    if (this.size > this.max) this.delete(this.keys().next().value as string)
    return this
  }
}

export class OutboxSealing {
  #bus: Bus
  #log: ActorContext<unknown>['log']
  #certs = new Bounded<{ cert: SignedRecordWire; account: string; at: number }>(MAX_CACHED)
  #revocations = new Bounded<{ record: SignedRecordWire | undefined; at: number; loading?: boolean }>(MAX_CACHED)
  #kept: KeptRecipients | undefined
  /** Devices sealed to from their kept certificate since their presence was last found. */
  #onKept = new Bounded<true>(MAX_CACHED)
  #recent = new RecentBodies(RECENT_BYTES, RECENT_MS)

  constructor(bus: Bus, log: ActorContext<unknown>['log']) {
    this.#bus = bus
    this.#log = log
  }

  /** Where certificates are kept on disk for when a recipient's presence has left the DHT (set once the stores open). */
  keepIn(kept: KeptRecipients | undefined): void {
    this.#kept = kept
  }

  /**
   * The body sealed to this device alone (base64): what the outgoing record keeps. Too large: PayloadTooLargeError.
   * On a send's path: waits for identity while it restarts.
   */
  async sealAtRest(id: string, body: string): Promise<string> {
    try {
      const payload = Buffer.from(utf8.encode(body)).toString('base64')
      const r = await whileIdentityRestarts(() => this.#bus.request(identitySeal, { id, payload, recipients: [], self: true }))
      this.#recent.set(r.envelope, body)
      return r.envelope
    } catch (e) {
      if ((e as { code?: unknown }).code === 'too_large') throw new PayloadTooLargeError(`the body does not fit in a ${ENVELOPE_MAX_BYTES}-byte envelope`, { cause: e })
      throw e
    }
  }

  /** The body of a record: opened from its sealed copy (no replay window: it is opened at every attempt). */
  async bodyOf(r: OutgoingRecord, signal?: AbortSignal): Promise<string> {
    if (r.sealed === undefined) return r.body ?? ''
    return this.openAtRest(r.sealed, signal)
  }

  /** A body this device sealed to itself (an outgoing record's, a sent message's in the history). */
  async openAtRest(sealed: string, signal?: AbortSignal): Promise<string> {
    const known = this.#recent.get(sealed)
    if (known !== undefined) return known
    const o = await this.#bus.request(identityOpen, { envelope: sealed, skipReplayWindow: true }, signal ? { signal } : {})
    return fromUtf8.decode(Buffer.from(o.payload, 'base64'))
  }

  /** The engine's `seal`: the payload for one device, sealed to its certificate (from its presence record). */
  async forDevice(req: SealRequest, signal: AbortSignal): Promise<Uint8Array> {
    const body = req.record.kind === 'message' ? await this.bodyOf(req.record, signal) : ''
    const payload = encodePayload(payloadOf(req.record, req.sync, body))
    const cert = await this.#certOf(req.deviceId, req.account, signal)
    try {
      const r = await this.#bus.request(identitySeal, { id: req.record.id, payload: Buffer.from(payload).toString('base64'), recipients: [cert] }, { signal })
      return new Uint8Array(Buffer.from(r.envelope, 'base64'))
    } catch (e) {
      // A certificate that does not verify (or has no encryption key) may have been replaced since: ask again next time.
      this.#certs.delete(req.deviceId)
      throw e
    }
  }

  async #certOf(deviceId: string, account: string, signal: AbortSignal): Promise<SignedRecordWire> {
    const known = this.#certs.get(deviceId)
    if (known && known.account === account && Date.now() - known.at < CERT_TTL_MS) return known.cert
    let r: ReplyOf<typeof discoveryLookupDevice>
    try {
      r = await this.#bus.request(discoveryLookupDevice, { deviceId }, { signal, timeoutMs: 20_000 })
    } catch (e) {
      // No presence any more (an offline device's expires within the hour): the certificate it last had, kept on
      // disk, still seals a message for its mailbox. Identity checks it again.
      const kept = signal.aborted ? undefined : await this.#kept?.certOf(deviceId).catch(() => undefined)
      if (kept?.account !== account) throw e
      // Once per device until its presence is found again (every attempt seals: a line each would flood the log).
      if (!this.#onKept.has(deviceId)) this.#log.info({ deviceId, err: (e as Error).message }, 'sealing to the kept certificate of a device with no presence')
      this.#onKept.set(deviceId, true)
      return kept.cert as SignedRecordWire
    }
    if (r.accountId !== account) throw Object.assign(new Error(`device ${deviceId} belongs to ${r.accountId}, not ${account}`), { code: 'bad_recipient' })
    await this.know(deviceId, account, r.chain.deviceCert)
    return r.chain.deviceCert
  }

  /**
   * A device's certificate from its verified presence (discovery checked it against the account's device list):
   * what the next seal to it uses, so an account lookup that found it saves asking for the device again.
   */
  async know(deviceId: string, account: string, cert: SignedRecordWire): Promise<void> {
    this.#certs.set(deviceId, { cert, account, at: Date.now() })
    this.#onKept.delete(deviceId)
    await this.#kept?.keepCert(deviceId, account, cert).catch((e: unknown) => this.#log.warn({ err: e, deviceId }, 'could not keep a certificate'))
  }

  /** A revoked device: its certificate leaves memory (its kept copy goes with the device list that names it revoked: KeptRecipients.keepDevices). */
  forget(deviceId: string): void {
    this.#certs.delete(deviceId)
  }

  /**
   * Opens an envelope addressed to this device and verifies its sender (chain, signature, revocation) in identity.
   * Refusals come back as `rejected` with the reason; an identity that cannot answer throws (the sender retries).
   * The replay window is skipped: the inbox de-duplicates by message ID in the same write that stores it, so a
   * crash between this open and that write leaves nothing that would refuse the retransmission.
   */
  async open(envelope: string, senderAccount?: string): Promise<OpenedPayload | OpenRefusal> {
    const bytes = Buffer.byteLength(envelope, 'base64')
    if (bytes > ENVELOPE_MAX_BYTES) return { status: 'rejected', reason: `too_large: the envelope is ${bytes} bytes, the limit is ${ENVELOPE_MAX_BYTES}` }
    const senderRevocations = senderAccount ? this.#knownRevocations(senderAccount) : undefined
    try {
      const o = await this.#bus.request(identityOpen, { envelope, skipReplayWindow: true, ...(senderRevocations ? { senderRevocations } : {}) })
      return { id: o.id, payload: new Uint8Array(Buffer.from(o.payload, 'base64')), sender: { accountId: o.sender.accountId, deviceId: o.sender.deviceId } }
    } catch (e) {
      const code = (e as { code?: unknown }).code
      if (typeof code === 'string' && REFUSALS.has(code)) return { status: 'rejected', reason: `${code}: ${(e as Error).message}`.slice(0, 500) }
      // The revocation list discovery gave does not verify here (it should have): forget it, open without it.
      if (code === 'invalid_argument' && senderRevocations && senderAccount) {
        this.#revocations.delete(senderAccount)
        return this.open(envelope)
      }
      throw e
    }
  }

  /**
   * The sender account's revocation list as discovery last found it (identity knows only its own account's). It is
   * never waited for on the receiving path (a lookup can take seconds): a missing or old one is fetched in the
   * background for the next envelope, and transport's handshake checks revocations as well.
   */
  #knownRevocations(account: string): SignedRecordWire | undefined {
    const known = this.#revocations.get(account)
    if (!known || (Date.now() - known.at > REVOCATIONS_TTL_MS && !known.loading)) {
      this.#revocations.set(account, { record: known?.record, at: known?.at ?? 0, loading: true })
      // The device list alone carries them: one DHT get, not one more per device for its presence.
      this.#bus.request(discoveryLookupDeviceList, { accountId: account }, { timeoutMs: 20_000 }).then(
        (r) => this.#revocations.set(account, { record: r.revocations, at: Date.now() }),
        (e: unknown) => {
          this.#revocations.set(account, { record: known?.record, at: Date.now() })
          this.#log.debug({ err: (e as Error).message, account }, 'no revocation list for a sender')
        },
      )
    }
    return known?.record
  }
}
