import {
  canonicalDecode,
  canonicalEncode,
  type DeviceCertBody,
  type DeviceListBody,
  fromBase64Url,
  idFromPublicKey,
  type PeerBindingBody,
  type PresenceBody,
  RevokedDeviceError,
  type RevocationsBody,
  type SignedRecord,
  type VerifiedChain,
  verifyChain,
  verifyDeviceList,
  verifyRecord,
  WrongSignerError,
} from '@baran/trust'
import { sha256 } from './bytes.ts'
import { MAX_BUNDLE_BYTES } from './constants.ts'
import { KeyMismatchError, MalformedValueError, ValueTooLargeError } from './errors.ts'

/**
 * What lives under `/baran-presence/<deviceId>`: the device's presence and the chain that proves
 * it (account → device certificate → peer binding), plus the account's revocation list.
 */
export interface PresenceBundle {
  presence: SignedRecord<PresenceBody>
  deviceCert: SignedRecord<DeviceCertBody>
  peerBinding: SignedRecord<PeerBindingBody>
  revocations?: SignedRecord<RevocationsBody>
}

/** What lives under `/baran-devices/<accountId>`: the account's device list (+ revocations). */
export interface DeviceListBundle {
  deviceList: SignedRecord<DeviceListBody>
  revocations?: SignedRecord<RevocationsBody>
}

/** An account's revocation list as verified. */
export interface RevocationInfo {
  accountId: string
  seq: number
  expiresAt: number
  /** Revoked device IDs. */
  devices: string[]
}

/** A presence bundle that verified: who the device is and where it can be reached. */
export interface VerifiedPresence {
  accountId: string
  accountKey: string
  deviceId: string
  deviceKey: string
  deviceName: string
  peerId: string
  addrs: string[]
  /** seq of the presence record: grows with every publish. */
  seq: number
  issuedAt: number
  /** Earliest expiry of every record in the bundle. */
  expiresAt: number
  revocations?: RevocationInfo
  bundle: PresenceBundle
}

/** A device-list bundle that verified. */
export interface VerifiedDeviceList {
  accountId: string
  accountKey: string
  seq: number
  issuedAt: number
  expiresAt: number
  devices: Array<{ deviceId: string; deviceKey: string; name: string }>
  revocations?: RevocationInfo
  bundle: DeviceListBundle
}

/** Options of the bundle verifiers. */
export interface VerifyBundleOptions {
  /** ms since epoch. @default Date.now() */
  now?: number
  /** @default 60_000 */
  clockSkewMs?: number
  /** Extra revocation knowledge (e.g. a storing node's newer lists): true refuses the device. */
  isRevoked?: (accountId: string, deviceId: string) => boolean
  /** Reuse chains already verified (presence bundles only). */
  chainCache?: ChainCache
}

/**
 * Remembers chains that verified, by the exact bytes of their records: a device republishes its
 * presence with the same certificate and binding, so a node that has checked them once only
 * checks the new presence signature (three signatures become one).
 */
export class ChainCache {
  readonly #entries = new Map<string, { chain: VerifiedChain; checkedAt: number; expiresAt: number }>()
  readonly #max: number

  constructor(max = 1_024) {
    this.#max = max
  }

  #id(links: object): string | undefined {
    try {
      return Buffer.from(sha256(canonicalEncode(links))).toString('base64')
    } catch {
      return undefined // not canonical-encodable: let verifyChain report it
    }
  }

  /** The chain these exact records proved, if it is still within their lives. */
  get(links: object, now: number): VerifiedChain | undefined {
    const id = this.#id(links)
    const hit = id === undefined ? undefined : this.#entries.get(id)
    if (hit === undefined || now < hit.checkedAt || now >= hit.expiresAt) return undefined
    return hit.chain
  }

  set(links: { revocations?: unknown }, chain: VerifiedChain, now: number): void {
    const id = this.#id(links)
    if (id === undefined) return
    const revExpiry = (links.revocations as { expiresAt?: number } | undefined)?.expiresAt ?? Number.POSITIVE_INFINITY
    this.#entries.delete(id)
    this.#entries.set(id, { chain, checkedAt: now, expiresAt: Math.min(chain.expiresAt ?? 0, revExpiry) })
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
  }
}

/** Bundle → canonical bytes (what goes into the DHT). Throws ValueTooLargeError over 64 KiB. */
export function encodeBundle(bundle: PresenceBundle | DeviceListBundle): Uint8Array {
  const bytes = canonicalEncode(bundle)
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw new ValueTooLargeError(`bundle is ${bytes.length} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit`)
  }
  return bytes
}

/** Decode canonical bytes into an object that has exactly the allowed fields (not verified). */
function decodeFields(input: Uint8Array | object, required: string[], optional: string[], what: string): Record<string, unknown> {
  let obj: unknown = input
  if (input instanceof Uint8Array) {
    if (input.length > MAX_BUNDLE_BYTES) {
      throw new ValueTooLargeError(`${what} is ${input.length} bytes, over the ${MAX_BUNDLE_BYTES}-byte limit`)
    }
    obj = canonicalDecode(input)
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new MalformedValueError(`${what} must be an object`)
  const fields = obj as Record<string, unknown>
  for (const k of Object.keys(fields)) {
    if (!required.includes(k) && !optional.includes(k)) throw new MalformedValueError(`${what}: unknown field ${JSON.stringify(k)}`)
  }
  for (const k of required) {
    if (fields[k] === undefined) throw new MalformedValueError(`${what}: missing ${k}`)
  }
  return fields
}

/** Pull the revocation facts out of a revocations record that has already verified. */
function revocationInfo(r: SignedRecord<RevocationsBody>): RevocationInfo {
  return { accountId: r.body.accountId, seq: r.seq, expiresAt: r.expiresAt, devices: r.body.devices.map((d) => d.deviceId) }
}

/**
 * Verify a presence bundle (bytes or object). Valid iff: the chain account → cert → binding
 * verifies and the bundle's revocations do not list the device; the presence record verifies as
 * 'presence' signed by the certified device key; presence names the same account, device and
 * peerId as the chain; `deviceId` (from the key) is the certificate's; `isRevoked` says no.
 * Throws @baran/trust errors for record faults, KeyMismatchError / MalformedValueError otherwise.
 */
export function verifyPresenceBundle(
  input: Uint8Array | PresenceBundle,
  opts: VerifyBundleOptions & { deviceId?: string } = {},
): VerifiedPresence {
  const now = opts.now ?? Date.now()
  const b = decodeFields(input, ['presence', 'deviceCert', 'peerBinding'], ['revocations'], 'presence bundle')
  const links = { deviceCert: b.deviceCert, peerBinding: b.peerBinding, ...(b.revocations === undefined ? {} : { revocations: b.revocations }) }
  let chain = opts.chainCache?.get(links, now)
  if (chain === undefined) {
    chain = verifyChain({ ...links, now, clockSkewMs: opts.clockSkewMs })
    opts.chainCache?.set(links, chain, now)
  }
  if (opts.deviceId !== undefined && chain.deviceId !== opts.deviceId) {
    throw new KeyMismatchError(`presence bundle is for device ${chain.deviceId}, not ${opts.deviceId}`)
  }
  const presence = verifyRecord(b.presence, { type: 'presence', signer: chain.deviceKey, now, clockSkewMs: opts.clockSkewMs })
  const body = presence.body
  if (body.accountId !== chain.accountId || body.deviceId !== chain.deviceId) {
    throw new WrongSignerError('presence: names another account or device than its certificate')
  }
  if (body.peerId !== chain.peerId) throw new WrongSignerError('presence: peerId differs from the peer binding')
  if (opts.isRevoked?.(chain.accountId, chain.deviceId) === true) {
    throw new RevokedDeviceError(`device ${chain.deviceId} is revoked by a newer revocation list of account ${chain.accountId}`)
  }
  // verifyChain accepted these exact objects, so their fields can be read as verified.
  const bundle = b as unknown as PresenceBundle
  const revocations = bundle.revocations === undefined ? undefined : revocationInfo(bundle.revocations)
  const expiresAt = Math.min(presence.expiresAt, chain.expiresAt ?? presence.expiresAt, revocations?.expiresAt ?? presence.expiresAt)
  return {
    accountId: chain.accountId,
    accountKey: chain.accountKey,
    deviceId: chain.deviceId,
    deviceKey: chain.deviceKey,
    deviceName: chain.deviceName,
    peerId: body.peerId,
    addrs: [...body.addrs],
    seq: presence.seq,
    issuedAt: presence.issuedAt,
    expiresAt,
    revocations,
    bundle: { presence, deviceCert: bundle.deviceCert, peerBinding: bundle.peerBinding, ...(bundle.revocations ? { revocations: bundle.revocations } : {}) },
  }
}

/**
 * Verify a device-list bundle: the list is signed by the account whose ID it names (and
 * `accountId`, from the key, if given); revocations, if present, are signed by the same account.
 */
export function verifyDeviceListBundle(
  input: Uint8Array | DeviceListBundle,
  opts: VerifyBundleOptions & { accountId?: string } = {},
): VerifiedDeviceList {
  const now = opts.now ?? Date.now()
  const b = decodeFields(input, ['deviceList'], ['revocations'], 'device-list bundle')
  const list = verifyDeviceList(b.deviceList, { now, clockSkewMs: opts.clockSkewMs })
  if (opts.accountId !== undefined && list.accountId !== opts.accountId) {
    throw new KeyMismatchError(`device list is for account ${list.accountId}, not ${opts.accountId}`)
  }
  // verifyDeviceList accepted this exact object: its envelope fields are verified.
  const deviceList = b.deviceList as SignedRecord<DeviceListBody>
  let revocations: RevocationInfo | undefined
  if (b.revocations !== undefined) {
    const r = verifyRecord(b.revocations, { type: 'revocations', signer: deviceList.signer, now, clockSkewMs: opts.clockSkewMs })
    if (r.body.accountId !== list.accountId) throw new WrongSignerError('revocations: for another account than the device list')
    revocations = revocationInfo(r)
  }
  return {
    accountId: list.accountId,
    accountKey: deviceList.signer,
    seq: list.seq,
    issuedAt: deviceList.issuedAt,
    expiresAt: Math.min(deviceList.expiresAt, revocations?.expiresAt ?? deviceList.expiresAt),
    devices: list.devices.map((d) => ({ ...d })),
    revocations,
    bundle: b as unknown as DeviceListBundle,
  }
}

/**
 * Verify a revocations record on its own (as a storing node learns them): signed by the account
 * whose ID it names. Returns the facts, or throws a @baran/trust error.
 */
export function verifyRevocations(record: unknown, opts: { now?: number; clockSkewMs?: number } = {}): RevocationInfo {
  const r = verifyRecord(record, { type: 'revocations', now: opts.now, clockSkewMs: opts.clockSkewMs })
  if (idFromPublicKey(fromBase64Url(r.signer)) !== r.body.accountId) {
    throw new WrongSignerError('revocations: signer is not the key of body.accountId')
  }
  return revocationInfo(r)
}
