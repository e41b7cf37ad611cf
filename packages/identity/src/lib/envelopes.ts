/**
 * Sealing and opening envelopes with this device's keys (the format and crypto are @baran/trust's): the keys come
 * from the store and never leave this process; opened envelopes go through the replay window.
 */
import {
  decryptEnvelope,
  type EnvelopeRecipientKey,
  EnvelopeSignatureError,
  EnvelopeTooLargeError,
  encodeRecord,
  envelopeBytes,
  envelopeRecipientOf,
  isTrustError,
  MAX_ENVELOPE_BYTES,
  NoEncryptionKeyError,
  NotForThisDeviceError,
  type OpenedEnvelope,
  sealEnvelope,
  type VerifiedChain,
  verifyChain,
  verifyEnvelope,
  verifyRevocationList,
} from '@baran/trust'
import { atRestKey, isAtRest, openAtRest, sealAtRest } from './at-rest.ts'
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
  /**
   * Seal to this device as well (its own certificate: what it keeps sealed at rest and opens again later). With no
   * other recipient the result is a body at rest (at-rest.ts), not an envelope.
   */
  self?: boolean
}

/** seal/open for the identity actor. */
export class EnvelopeService {
  private readonly store: SealedKeyring
  private readonly replay: ReplayWindow
  private readonly clock: () => number
  /**
   * What bodies at rest need of this device, for the X25519 key and certificate it was made from: the key, the
   * certificate's size, and the device's own chain once verified (until it expires).
   */
  private atRest: { from: Uint8Array; cert: object; key: Buffer; certBytes: number; chain?: VerifiedChain } | undefined

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
      if (recipients.length === 0) return { envelope: this.sealSelfOnly(id, payload, now, keys), recipients: [keys.deviceId] }
      recipients.push({ accountId, deviceId: keys.deviceId, encKey })
    }
    const envelope = await sealEnvelope({ id, payload, sentAt: now, sender: { deviceCert: keys.deviceCert, deviceSecretKey: keys.deviceSecretKey }, recipients })
    return { envelope, recipients: [...new Set(recipients.map((r) => r.deviceId))].sort() }
  }

  /**
   * A body only this device will open: sealed at rest. It is refused (too large) where an envelope to one device
   * with this payload would be, so that a body accepted at rest can always be sent.
   */
  private sealSelfOnly(id: string, payload: Uint8Array, now: number, keys: Awaited<ReturnType<SealedKeyring['envelopeKeys']>>): Uint8Array {
    const atRest = this.atRestOf(keys)
    if (envelopeBytes({ idLength: id.length, certBytes: atRest.certBytes, recipients: 1, payloadBytes: payload.length }) > MAX_ENVELOPE_BYTES) {
      throw new EnvelopeTooLargeError(`a payload of ${payload.length} bytes would not fit in a ${MAX_ENVELOPE_BYTES}-byte envelope to one device`)
    }
    return sealAtRest(atRest.key, keys.deviceId, { id, sentAt: now, payload })
  }

  private atRestOf(keys: { deviceId: string; deviceCert: Parameters<typeof encodeRecord>[0]; encPrivateKey: Uint8Array }) {
    if (this.atRest?.from !== keys.encPrivateKey || this.atRest.cert !== keys.deviceCert) {
      this.atRest = { from: keys.encPrivateKey, cert: keys.deviceCert, key: atRestKey(keys.encPrivateKey, keys.deviceId), certBytes: encodeRecord(keys.deviceCert).length }
    }
    return this.atRest
  }

  /** A body this device sealed at rest, opened: the sender is this device (its chain as its certificate says). */
  private async openSelfOnly(bytes: Uint8Array): Promise<OpenedEnvelope> {
    const keys = await this.store.envelopeKeys()
    const atRest = this.atRestOf(keys)
    const body = openAtRest(atRest.key, keys.deviceId, bytes)
    const now = this.clock()
    if (atRest.chain?.expiresAt !== undefined && atRest.chain.expiresAt <= now) atRest.chain = undefined
    atRest.chain ??= this.verifyOwnChain(keys.deviceCert, now)
    return { ...body, sender: atRest.chain, senderCert: keys.deviceCert }
  }

  /** This device's chain; one that no longer verifies (an expired certificate) is refused as an envelope's sender would be. */
  private verifyOwnChain(deviceCert: unknown, now: number): VerifiedChain {
    try {
      return verifyChain({ deviceCert, now })
    } catch (e) {
      if (isTrustError(e)) throw new EnvelopeSignatureError(`this device's own chain: ${e.message}`, { cause: e })
      throw e
    }
  }

  /**
   * Opens an envelope sealed to this device. Refusals are EnvelopeErrors with a reason: malformed, too-large,
   * bad-signature, revoked-sender (this account's revocations, or the ones passed), not-for-this-device, replayed.
   */
  async open(bytes: Uint8Array, opts: OpenOptions = {}): Promise<OpenedEnvelope> {
    // A body at rest is only ever this device's own, opened again and again: the replay window has no part in it.
    if (isAtRest(bytes)) return this.openSelfOnly(bytes)
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
