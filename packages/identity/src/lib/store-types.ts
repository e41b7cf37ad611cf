/** The shapes SealedKeyring takes and returns: its options, the logger it writes to, and the public account description. */
import type { BodyOf, DeviceCertBody, DeviceListBody, RecordType, RevocationsBody, SignedRecord } from '@baran/trust'
import type { ScryptParams } from './kdf.ts'

/** The logger shape the runtime passes in (pino-compatible). */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Options of SealedKeyring. */
export interface SealedKeyringInit {
  /** Directory of the store (the actor passes `<dataDir>/identity`); created 0700. */
  dir: string
  /** Seal the store file with this passphrase (scrypt → secretbox). @default unsealed */
  passphrase?: string
  /** Clock, ms since epoch. @default Date.now */
  now?: () => number
  /** scrypt cost used when sealing a new store. @default DEFAULT_SCRYPT (N=2^18, r=8, p=1) */
  kdf?: ScryptParams
  log?: Logger
}

/** A device of the account, as listed in its device list. */
export interface DeviceInfo {
  deviceId: string
  deviceKey: string
  name: string
  /** true for the device this store runs on */
  current: boolean
}

/** Public description of the account held by this store (no secrets). */
export interface AccountInfo {
  accountId: string
  /** base64url Ed25519 account public key */
  accountKey: string
  deviceId: string
  /** base64url Ed25519 device public key */
  deviceKey: string
  deviceName: string
  /** checksummed 0x address of the account's Ethereum key */
  ethAddress: string
  devices: DeviceInfo[]
  /** revoked device IDs */
  revoked: string[]
  deviceCert: SignedRecord<DeviceCertBody>
  deviceList: SignedRecord<DeviceListBody>
  revocations: SignedRecord<RevocationsBody>
  /** ms since epoch */
  createdAt: number
}

/** A record to sign through the generic signRecord. */
export interface RecordRequest<T extends RecordType = RecordType> {
  type: T
  body: BodyOf<T>
  /** @default a clock-based sequence number that grows on every call */
  seq?: number
  /** @default DEFAULT_PEER_BINDING_TTL_MS for peer-binding, DEFAULT_RECORD_TTL_MS otherwise */
  ttlMs?: number
}
