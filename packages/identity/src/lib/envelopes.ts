/**
 * Sealing and opening envelopes with this device's keys (the format and crypto are @baran/trust's): the keys come
 * from the store and never leave this process; opened envelopes go through the replay window.
 */
import {
  decryptEnvelope,
  type EnvelopeRecipientKey,
  envelopeRecipientOf,
  isTrustError,
  NoEncryptionKeyError,
  NotForThisDeviceError,
  type OpenedEnvelope,
  sealEnvelope,
  verifyEnvelope,
  verifyRevocationList,
} from '@baran/trust'
import { BadRecipientError, InvalidArgumentError } from './errors.ts'
import type { ReplayWindow } from './replay-window.ts'
import type { SealedKeyring } from './store.ts'

/** Options of EnvelopeService.open. */
export interface OpenOptions {
  /** The sender account's signed revocation list the caller knows (this store knows its own account's). */
  senderRevocations?: unknown
  /**
   * Neither check nor record the (sender device, ID) pair in the replay window: for a caller that de-duplicates by
   * envelope ID in its own store (the outbox's inbox), so that a crash between this open and the caller's write
   * cannot make the retransmission look replayed and lose it, and for a device re-opening what it sealed to itself.
   */
  skipReplayWindow?: boolean
}

/** Options of EnvelopeService.seal. */
export interface SealOptions {
  /** Seal to this device as well (its own certificate: what it keeps sealed at rest and opens again later). */
  self?: boolean
}

/** seal/open for the identity actor. */
export class EnvelopeService {
  private readonly store: SealedKeyring
  private readonly replay: ReplayWindow
  private readonly clock: () => number

  constructor(init: { store: SealedKeyring; replay: ReplayWindow; now?: () => number }) {
    this.store = init.store
    this.replay = init.replay
    this.clock = init.now ?? Date.now
  }

  /**
   * Seals `payload` to the devices of `recipientCerts` (device-cert version 2 each) as this device. Throws
   * BadRecipientError, NoEncryptionKeyError, EnvelopeTooLargeError, MalformedEnvelopeError.
   */
  async seal(id: string, payload: Uint8Array, recipientCerts: unknown[], opts: SealOptions = {}): Promise<{ envelope: Uint8Array; recipients: string[] }> {
    if (!Array.isArray(recipientCerts)) throw new InvalidArgumentError('recipients must be an array of device certificates')
    if (recipientCerts.length === 0 && !opts.self) throw new InvalidArgumentError('no recipient: give device certificates, or self')
    const now = this.clock()
    const recipients: EnvelopeRecipientKey[] = recipientCerts.map((cert, i) => {
      try {
        return envelopeRecipientOf(cert, { now })
      } catch (e) {
        if (e instanceof NoEncryptionKeyError) throw e
        if (isTrustError(e)) throw new BadRecipientError(`recipient ${i}: ${e.message}`, { cause: e })
        throw e
      }
    })
    const keys = await this.store.envelopeKeys()
    if (opts.self) {
      // Our own certificate, from our own store: no need to verify its signature again at every seal.
      const { accountId, encKey } = keys.deviceCert.body as { accountId: string; encKey?: string }
      if (encKey === undefined) throw new NoEncryptionKeyError(`device ${keys.deviceId} has no encryption key yet`)
      recipients.push({ accountId, deviceId: keys.deviceId, encKey })
    }
    const envelope = await sealEnvelope({ id, payload, sentAt: now, sender: { deviceCert: keys.deviceCert, deviceSecretKey: keys.deviceSecretKey }, recipients })
    return { envelope, recipients: [...new Set(recipients.map((r) => r.deviceId))].sort() }
  }

  /**
   * Opens an envelope sealed to this device. Refusals are EnvelopeErrors with a reason: malformed, too-large,
   * bad-signature, revoked-sender (this account's revocations, or the ones passed), not-for-this-device, replayed.
   */
  async open(bytes: Uint8Array, opts: OpenOptions = {}): Promise<OpenedEnvelope> {
    const info = this.store.openContext()
    const now = this.clock()
    // A revocation list that does not verify is the caller's mistake, not the envelope's: say so apart.
    let given: { accountId: string; list: unknown } | undefined
    if (opts.senderRevocations !== undefined) {
      try {
        given = { accountId: verifyRevocationList(opts.senderRevocations, now), list: opts.senderRevocations }
      } catch (e) {
        throw new InvalidArgumentError(`senderRevocations does not verify: ${(e as Error).message}`, { cause: e })
      }
    }
    const revocationsFor = (accountId: string) => {
      if (accountId === info.accountId) return info.revocations
      return given?.accountId === accountId ? given.list : undefined
    }
    const verified = verifyEnvelope(bytes, { now, revocationsFor })
    const keys = await this.store.envelopeKeys()
    // Not ours: say so before the replay check, which would otherwise claim the ID for nothing.
    if (!verified.recipients.includes(keys.deviceId)) throw new NotForThisDeviceError(`envelope ${verified.id} is not sealed to device ${keys.deviceId}`)
    if (opts.skipReplayWindow) return decryptEnvelope(verified, keys)
    this.replay.reserve(verified.sender.deviceId, verified.id, verified.sentAt)
    let opened: OpenedEnvelope
    try {
      opened = await decryptEnvelope(verified, keys)
    } catch (e) {
      this.replay.release(verified.sender.deviceId, verified.id)
      throw e
    }
    try {
      await this.replay.commit(verified.sender.deviceId, verified.id, verified.sentAt)
    } catch (e) {
      // Not durable: the caller gets an error and may retry, so the ID must not count as seen.
      this.replay.release(verified.sender.deviceId, verified.id)
      throw e
    }
    return opened
  }
}
