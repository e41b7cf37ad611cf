/**
 * The canonical text (`@baran/trust`'s canonicalString) of the part of a history entry that syncs, written out for
 * the entry's known shape: the generic encoder sorts every object's keys and dispatches on every value, ~3 µs a
 * message, a sixth of what a device spends to store a message it receives by sync. Anything not of that shape
 * (an unknown key, a value of another type, a number that is not a safe integer) is left to the generic encoder,
 * so both always give the same text, or the same error (a test compares them on generated entries).
 */
import { canonicalString } from '@baran/trust'
import type { HistoryDevice, HistoryEntry } from './history-entry.ts'

/** The keys of an entry; the last four are not synced. */
const ENTRY_KEYS = new Set(['v', 'id', 'peer', 'direction', 'from', 'fromDevice', 'to', 'sentAt', 'prev', 'devices', 'readAt', 'storedAt', 'updatedAt', 'body', 'sealed'])
const DEVICE_KEYS = new Set(['at', 'deviceId', 'readAt', 'state'])

/** The synced fields of `e` in canonical form. */
export function syncedText(e: HistoryEntry): string {
  const { storedAt: _s, updatedAt: _u, body: _b, sealed: _x, ...synced } = e
  return fastText(e) ?? canonicalString(synced)
}

function fastText(e: HistoryEntry): string | undefined {
  if (!plainWith(e, ENTRY_KEYS)) return undefined
  if (!strings(e.direction, e.from, e.fromDevice, e.id, e.peer, e.to) || !ints(e.sentAt, e.v)) return undefined
  if (('prev' in e && typeof e.prev !== 'string') || ('readAt' in e && !ints(e.readAt))) return undefined
  let devices = ''
  if ('devices' in e) {
    const list = devicesText(e.devices)
    if (list === undefined) return undefined
    devices = `"devices":${list},`
  }
  // Keys in UTF-16 order, as the generic encoder sorts them.
  return (
    `{${devices}"direction":${q(e.direction)},"from":${q(e.from)},"fromDevice":${q(e.fromDevice)},"id":${q(e.id)},"peer":${q(e.peer)},` +
    `${e.prev === undefined ? '' : `"prev":${q(e.prev)},`}${e.readAt === undefined ? '' : `"readAt":${e.readAt},`}"sentAt":${e.sentAt},"to":${q(e.to)},"v":${e.v}}`
  )
}

function devicesText(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined
  const parts: string[] = []
  // Index loop: a hole is seen (and left to the generic encoder, which refuses it).
  for (let i = 0; i < list.length; i++) {
    const d = list[i] as HistoryDevice | undefined
    if (!plainWith(d, DEVICE_KEYS) || !strings(d.deviceId, d.state)) return undefined
    if (('at' in d && !ints(d.at)) || ('readAt' in d && !ints(d.readAt))) return undefined
    parts.push(
      `{${d.at === undefined ? '' : `"at":${d.at},`}"deviceId":${q(d.deviceId)},${d.readAt === undefined ? '' : `"readAt":${d.readAt},`}"state":${q(d.state)}}`,
    )
  }
  return `[${parts.join(',')}]`
}

/** A plain object whose own keys are all in `keys` (none of them symbols). */
function plainWith(o: unknown, keys: ReadonlySet<string>): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Object.getPrototypeOf(o) !== Object.prototype) return false
  if (Object.getOwnPropertySymbols(o).length > 0) return false
  for (const k of Object.keys(o)) if (!keys.has(k)) return false
  return true
}

function strings(...xs: unknown[]): boolean {
  return xs.every((x) => typeof x === 'string')
}

function ints(...xs: unknown[]): boolean {
  return xs.every((x) => Number.isSafeInteger(x) && !Object.is(x, -0))
}

const q = (s: string) => JSON.stringify(s)
