import { z } from 'zod'
import { fromBase64Url } from './bytes.ts'
import { MalformedRecordError, RevokedDeviceError, WrongSignerError } from './errors.ts'
import { idFromPublicKey } from './ids.ts'
import { checkOptions, verifyRecord } from './record.ts'
import type { DeviceListBody } from './types.ts'

/** Input of verifyChain: records as received (decoded objects, not yet trusted). */
export interface VerifyChainInput {
  /** 'device-cert' signed by the account key. */
  deviceCert: unknown
  /** 'peer-binding' signed by the device key; required to prove a peerId. */
  peerBinding?: unknown
  /** 'revocations' signed by the same account key. */
  revocations?: unknown
  /** Identities the caller expects; a mismatch is a WrongSignerError. */
  expect?: { accountId?: string; deviceId?: string; peerId?: string }
  /** ms since epoch. @default Date.now() */
  now?: number
  /** @default 60_000 */
  clockSkewMs?: number
}

/** What a verified chain proves: this account key certified this device key (bound to this peer). */
export interface VerifiedChain {
  accountId: string
  accountKey: string
  deviceId: string
  deviceKey: string
  deviceName: string
  /** base64url X25519 encryption key of the device (device-cert version 2 only) */
  encKey?: string
  peerId?: string
  /** Earliest expiry of the records the chain used (ms): re-verify after it. */
  expiresAt?: number
}

const expectSchema = z.object({ accountId: z.string().optional(), deviceId: z.string().optional(), peerId: z.string().optional() })
const inputSchema = z.object({ expect: expectSchema.optional() })

function parseInput(input: unknown): void {
  let ok: boolean
  try {
    ok = inputSchema.safeParse(input).success
  } catch (cause) {
    throw new MalformedRecordError('verifyChain: input could not be read', { cause })
  }
  if (!ok) throw new MalformedRecordError('verifyChain: input must be an object with an optional `expect` of strings')
  checkOptions({ now: (input as VerifyChainInput).now, clockSkewMs: (input as VerifyChainInput).clockSkewMs })
}

/**
 * Verify account key → device certificate → (peer binding) and check the device against the
 * account's revocation list. Throws a TrustError naming the first broken link.
 */
export function verifyChain(input: VerifyChainInput): VerifiedChain {
  parseInput(input)
  const { now = Date.now(), clockSkewMs, expect = {} } = input
  const timing = { now, clockSkewMs }

  const cert = verifyRecord(input.deviceCert, { ...timing, type: 'device-cert' })
  const accountKey = cert.signer
  const { accountId, deviceId, deviceKey, name } = cert.body
  if (idFromPublicKey(fromBase64Url(accountKey)) !== accountId) {
    throw new WrongSignerError('device-cert: signer is not the key of body.accountId')
  }
  if (idFromPublicKey(fromBase64Url(deviceKey)) !== deviceId) {
    throw new MalformedRecordError('device-cert: body.deviceId is not the ID of body.deviceKey')
  }
  if (expect.accountId !== undefined && expect.accountId !== accountId) throw new WrongSignerError('device-cert: unexpected accountId')
  if (expect.deviceId !== undefined && expect.deviceId !== deviceId) throw new WrongSignerError('device-cert: unexpected deviceId')

  const chain: VerifiedChain = { accountId, accountKey, deviceId, deviceKey, deviceName: name, expiresAt: cert.expiresAt }
  if ('encKey' in cert.body) chain.encKey = cert.body.encKey

  if (input.peerBinding !== undefined) {
    const binding = verifyRecord(input.peerBinding, { ...timing, type: 'peer-binding', signer: deviceKey })
    if (binding.body.accountId !== accountId || binding.body.deviceId !== deviceId) {
      throw new WrongSignerError('peer-binding: made for another account or device than the certificate')
    }
    if (expect.peerId !== undefined && expect.peerId !== binding.body.peerId) {
      throw new WrongSignerError('peer-binding: bound to another peerId')
    }
    chain.peerId = binding.body.peerId
    chain.expiresAt = Math.min(cert.expiresAt, binding.expiresAt)
  } else if (expect.peerId !== undefined) {
    throw new WrongSignerError('verifyChain: expect.peerId needs a peer-binding')
  }

  if (input.revocations !== undefined) {
    const revocations = verifyRecord(input.revocations, { ...timing, type: 'revocations', signer: accountKey })
    if (revocations.body.accountId !== accountId) throw new MalformedRecordError('revocations: body.accountId is not the signer\'s ID')
    if (revocations.body.devices.some((d) => d.deviceId === deviceId)) {
      throw new RevokedDeviceError(`device ${deviceId} is revoked by account ${accountId}`)
    }
  }
  return chain
}

/** Options of verifyDeviceList. */
export interface VerifyDeviceListOptions {
  /** Required account; the signer's ID must equal it. */
  accountId?: string
  /** ms since epoch. @default Date.now() */
  now?: number
  /** @default 60_000 */
  clockSkewMs?: number
  /** Reject seq <= lastSeq (ReplayedRecordError). */
  lastSeq?: number
}

/**
 * Verify an account's 'device-list': signed by the key whose ID is body.accountId (and
 * opts.accountId if given), each entry's deviceId the ID of its deviceKey.
 */
export function verifyDeviceList(record: unknown, opts: VerifyDeviceListOptions = {}): DeviceListBody & { seq: number } {
  const r = verifyRecord(record, { now: opts.now, clockSkewMs: opts.clockSkewMs, lastSeq: opts.lastSeq, type: 'device-list' })
  const signerId = idFromPublicKey(fromBase64Url(r.signer))
  if (signerId !== r.body.accountId) throw new WrongSignerError('device-list: signer is not the key of body.accountId')
  if (opts.accountId !== undefined && opts.accountId !== signerId) throw new WrongSignerError('device-list: unexpected accountId')
  for (const d of r.body.devices) {
    if (idFromPublicKey(fromBase64Url(d.deviceKey)) !== d.deviceId) {
      throw new MalformedRecordError(`device-list: deviceId ${d.deviceId} is not the ID of its deviceKey`)
    }
  }
  return { ...r.body, seq: r.seq }
}
