import { utf8 } from './bytes.ts'
import { MAX_CANONICAL_DEPTH } from './constants.ts'
import { MalformedRecordError } from './errors.ts'

/**
 * Deterministic JSON (JCS-like): object keys sorted by UTF-16 code units, no whitespace, strings
 * escaped as JSON.stringify does, numbers limited to safe integers (so no float formatting rules
 * are needed). Allowed: null, boolean, string, safe integer, array, plain object. Binary data
 * travels as base64url strings. Throws MalformedRecordError for anything else.
 */
export function canonicalEncode(value: unknown): Uint8Array {
  return utf8(encodeValue(value, 0))
}

/** The same canonical form as a string (for a hash that takes the text as it is, without a copy into bytes first). */
export function canonicalString(value: unknown): string {
  return encodeValue(value, 0)
}

function encodeValue(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
        throw new MalformedRecordError(`canonical: only safe integers are allowed, got ${String(value)}`)
      }
      return String(value)
    case 'object':
      break
    default:
      throw new MalformedRecordError(`canonical: ${typeof value} is not allowed`)
  }
  if (value === null) return 'null'
  if (depth >= MAX_CANONICAL_DEPTH) throw new MalformedRecordError(`canonical: nesting deeper than ${MAX_CANONICAL_DEPTH}`)
  if (Array.isArray(value)) {
    const parts: string[] = []
    // Index loop (not map) so holes are seen, as undefined, and rejected.
    for (let i = 0; i < value.length; i++) parts.push(encodeValue(value[i], depth + 1))
    return `[${parts.join(',')}]`
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    throw new MalformedRecordError('canonical: only plain objects are allowed (no class instances or byte arrays)')
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new MalformedRecordError('canonical: symbol keys are not allowed')
  }
  // Default sort compares UTF-16 code units, which is the order we want.
  const keys = Object.keys(value).sort()
  const parts: string[] = []
  for (const k of keys) {
    parts.push(`${JSON.stringify(k)}:${encodeValue((value as Record<string, unknown>)[k], depth + 1)}`)
  }
  return `{${parts.join(',')}}`
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Parse canonical bytes: strict UTF-8, JSON.parse, then re-encode and require byte equality, so
 * only the one canonical form of a value is accepted (no whitespace, sorted unique keys, no
 * floats). Throws MalformedRecordError otherwise.
 */
export function canonicalDecode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new MalformedRecordError('canonical: expected a Uint8Array')
  let text: string
  let value: unknown
  try {
    text = decoder.decode(bytes)
    value = JSON.parse(text)
  } catch (cause) {
    throw new MalformedRecordError('canonical: not valid UTF-8 JSON', { cause })
  }
  // Compared as text: strict UTF-8 decoding is one-to-one, and the canonical text has no lone surrogate (JSON.stringify
  // escapes them), so equal text is equal bytes, without encoding the text back to bytes first.
  if (canonicalString(value) !== text) {
    throw new MalformedRecordError('canonical: bytes are not in canonical form')
  }
  return value
}
