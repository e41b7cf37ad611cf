/**
 * The key store file: canonical JSON { v: 1, account: AccountPayload, device: { secretKey, encSeed? } }
 * (`encSeed`, the seed of the device's X25519 encryption key, is missing in stores written before it existed),
 * either plain or sealed in a "BARANKEY" container (the archive's format with another magic, so a
 * store file is never mistaken for an archive).
 */
import { canonicalDecode, canonicalEncode, fromBase64Url, keyPairFromSeed, toBase64Url } from '@baran/trust'
import { type AccountPayload, validateAccountPayload } from './archive.ts'
import { SEALED_STORE_MAGIC } from './constants.ts'
import { decodeContainer, hasMagic, type SealingKeys, sealContainer } from './container.ts'
import { CorruptStoreError, PassphraseRequiredError, StoreNotSealedError } from './errors.ts'

/** What the store file holds, decoded. */
export interface StoreContent {
  account: AccountPayload
  /** 64-byte tweetnacl secret key of this node's device */
  deviceSecretKey: Uint8Array
  /** 32-byte seed of the device's X25519 encryption key (RFC 9180 DeriveKeyPair); absent in older stores */
  encSeed?: Uint8Array
}

const FILE_VERSION = 1

/** Serializes the store content; sealed under `keys` when given. */
export function encodeStoreFile(content: StoreContent, keys?: SealingKeys): Uint8Array {
  const device = { secretKey: toBase64Url(content.deviceSecretKey), ...(content.encSeed ? { encSeed: toBase64Url(content.encSeed) } : {}) }
  const json = canonicalEncode({ v: FILE_VERSION, account: content.account, device })
  return keys ? sealContainer(SEALED_STORE_MAGIC, json, keys) : json
}

/** True if the file bytes are a sealed container. */
export function isSealedStoreFile(bytes: Uint8Array): boolean {
  return hasMagic(bytes, SEALED_STORE_MAGIC)
}

/**
 * Parses a store file. A sealed file needs the passphrase (PassphraseRequiredError; a wrong one
 * gives WrongPasswordError); a plain file with a passphrase is refused (StoreNotSealedError).
 * Any other defect is a CorruptStoreError. Returns the sealing keys to reseal with later.
 */
export async function decodeStoreFile(bytes: Uint8Array, passphrase?: string): Promise<{ content: StoreContent; keys?: SealingKeys }> {
  let json = bytes
  let keys: SealingKeys | undefined
  if (isSealedStoreFile(bytes)) {
    if (passphrase === undefined) throw new PassphraseRequiredError()
    try {
      ;({ payload: json, keys } = await decodeContainer(bytes, SEALED_STORE_MAGIC, passphrase))
    } catch (err) {
      if ((err as Error).name === 'WrongPasswordError') throw err
      throw new CorruptStoreError(`The sealed key store cannot be opened: ${(err as Error).message}`, { cause: err })
    }
  } else if (passphrase !== undefined) {
    throw new StoreNotSealedError()
  }
  return { content: parseStoreJson(json), keys }
}

function parseStoreJson(json: Uint8Array): StoreContent {
  try {
    const value = canonicalDecode(json) as { v?: unknown; account?: unknown; device?: { secretKey?: unknown; encSeed?: unknown } } | null
    if (typeof value !== 'object' || value === null || value.v !== FILE_VERSION) throw new Error(`unknown store file version`)
    const keys = Object.keys(value).sort().join(',')
    if (keys !== 'account,device,v') throw new Error('unexpected fields')
    const account = validateAccountPayload(value.account)
    const secret = value.device?.secretKey
    if (typeof secret !== 'string') throw new Error('device secret key missing')
    const deviceSecretKey = fromBase64Url(secret)
    if (deviceSecretKey.length !== 64) throw new Error('device secret key must be 64 bytes')
    const { signer, id: deviceId } = keyPairFromSeed(deviceSecretKey.subarray(0, 32))
    if (signer !== toBase64Url(deviceSecretKey.subarray(32))) throw new Error('device secret key halves do not match')
    if (!account.deviceCerts.some((c) => c.body.deviceId === deviceId)) throw new Error('no certificate for this device')
    if (!account.deviceList.body.devices.some((d) => d.deviceId === deviceId)) throw new Error('this device is not in the device list')
    const deviceKeys = Object.keys(value.device ?? {}).filter((k) => k !== 'secretKey' && k !== 'encSeed')
    if (deviceKeys.length > 0) throw new Error('unexpected device fields')
    const seed = value.device?.encSeed
    if (seed === undefined) return { account, deviceSecretKey }
    if (typeof seed !== 'string') throw new Error('encryption key seed must be a string')
    const encSeed = fromBase64Url(seed)
    if (encSeed.length !== 32) throw new Error('encryption key seed must be 32 bytes')
    return { account, deviceSecretKey, encSeed }
  } catch (cause) {
    throw new CorruptStoreError(`The key store file is corrupt: ${(cause as Error).message}`, { cause })
  }
}
