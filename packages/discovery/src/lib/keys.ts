import { isId } from '@baran/trust'
import { DEVICES_NAMESPACE, PRESENCE_NAMESPACE, VALUE_NAMESPACE } from './constants.ts'
import { InvalidKeyError } from './errors.ts'

/** A DHT key in one of Baran's namespaces, parsed. */
export type ParsedKey =
  | { kind: 'presence'; key: string; deviceId: string }
  | { kind: 'device-list'; key: string; accountId: string }
  | { kind: 'value'; key: string; id: string }

/** What a watcher may name: a raw key, or the device / account it is about. */
export type WatchTarget = string | { deviceId: string } | { accountId: string }

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })
// Longest valid key: '/baran-presence/' + 40 hex chars.
const MAX_KEY_CHARS = 64

/** `/baran-presence/<deviceId>`: where a device's presence bundle lives. */
export function presenceKey(deviceId: string): string {
  if (!isId(deviceId)) throw new InvalidKeyError('deviceId must be 40 lowercase hex chars')
  return `/${PRESENCE_NAMESPACE}/${deviceId}`
}

/** `/baran-devices/<accountId>`: where an account's device-list bundle lives. */
export function deviceListKey(accountId: string): string {
  if (!isId(accountId)) throw new InvalidKeyError('accountId must be 40 lowercase hex chars')
  return `/${DEVICES_NAMESPACE}/${accountId}`
}

/** `/baran-value/<40 hex>`: where an opaque value lives. */
export function valueKey(id: string): string {
  if (!isId(id)) throw new InvalidKeyError('value id must be 40 lowercase hex chars')
  return `/${VALUE_NAMESPACE}/${id}`
}

/** Parse a key (string or the DHT's key bytes); throws InvalidKeyError outside Baran's namespaces. */
export function parseKey(key: string | Uint8Array): ParsedKey {
  let s: string
  if (typeof key === 'string') {
    s = key
  } else if (key instanceof Uint8Array) {
    if (key.length > MAX_KEY_CHARS) throw new InvalidKeyError('key too long')
    try {
      s = decoder.decode(key)
    } catch (cause) {
      throw new InvalidKeyError('key is not UTF-8', { cause })
    }
  } else {
    throw new InvalidKeyError('key must be a string or bytes')
  }
  if (s.length > MAX_KEY_CHARS) throw new InvalidKeyError('key too long')
  const parts = s.split('/')
  if (parts.length !== 3 || parts[0] !== '' || !isId(parts[2])) {
    throw new InvalidKeyError(`not a Baran key: ${JSON.stringify(s.slice(0, MAX_KEY_CHARS))}`)
  }
  const id = parts[2]
  switch (parts[1]) {
    case PRESENCE_NAMESPACE:
      return { kind: 'presence', key: s, deviceId: id }
    case DEVICES_NAMESPACE:
      return { kind: 'device-list', key: s, accountId: id }
    case VALUE_NAMESPACE:
      return { kind: 'value', key: s, id }
    default:
      throw new InvalidKeyError(`unknown namespace ${JSON.stringify(parts[1])}`)
  }
}

const BARAN_PREFIX = encoder.encode('/baran-')

/** True if the key bytes start with `/baran-` (a cheap check before parsing). */
export function isBaranKey(key: Uint8Array): boolean {
  if (key.length <= BARAN_PREFIX.length) return false
  return BARAN_PREFIX.every((b, i) => key[i] === b)
}

/** Key bytes as the DHT sees them. */
export function keyBytes(key: string): Uint8Array {
  return encoder.encode(key)
}

/** The key a watch target names. */
export function targetKey(target: WatchTarget): string {
  if (typeof target === 'string') return parseKey(target).key
  if (typeof target === 'object' && target !== null) {
    if ('deviceId' in target) return presenceKey(target.deviceId)
    if ('accountId' in target) return deviceListKey(target.accountId)
  }
  throw new InvalidKeyError('watch target must be a key, { deviceId } or { accountId }')
}
