import { z } from 'zod'
import { InvalidMessageIdError } from './errors.ts'

/**
 * Message IDs: 48-bit milliseconds since the epoch, then 80 random bits, in Crockford base32 (26 chars, the
 * ULID layout). They sort by creation time as plain strings, and one generator never repeats itself: within
 * one millisecond (or when the clock steps back) it adds one to the previous random part instead.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0))
const TIME_CHARS = 10
const RANDOM_BYTES = 10
const MAX_TIME = 2 ** 48 - 1
const ID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

/** A message ID as a zod schema (for payloads, records, requests). */
export const MessageIdSchema = z.string().regex(ID_RE, 'a 26-char message ID')

export function isMessageId(value: unknown): value is string {
  return typeof value === 'string' && ID_RE.test(value)
}

/** The creation time (ms) encoded in a message ID. */
export function messageIdTime(id: string): number {
  if (!isMessageId(id)) throw new InvalidMessageIdError(`not a message ID: ${JSON.stringify(String(id).slice(0, 40))}`)
  let t = 0
  for (let i = 0; i < TIME_CHARS; i++) t = t * 32 + ALPHABET.indexOf(id[i]!)
  return t
}

export interface IdGeneratorInit {
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number
  /** Fills bytes with randomness. @default crypto.getRandomValues */
  random?: (bytes: Uint8Array) => void
}

/** A generator of strictly increasing message IDs. */
export function createIdGenerator(init: IdGeneratorInit = {}): () => string {
  const now = init.now ?? Date.now
  const random = init.random ?? ((b: Uint8Array) => void crypto.getRandomValues(b))
  let lastTime = -1
  const rnd = new Uint8Array(RANDOM_BYTES)
  return () => {
    let t = Math.floor(now())
    if (!Number.isSafeInteger(t) || t < 0 || t > MAX_TIME) throw new InvalidMessageIdError(`time ${t} does not fit a message ID`)
    if (t <= lastTime) {
      // Same millisecond, or the clock stepped back: stay on the last time and count up.
      t = lastTime
      if (!increment(rnd)) {
        // 2^80 IDs in one millisecond will not happen, but if it did, borrow the next millisecond.
        if (t >= MAX_TIME) throw new InvalidMessageIdError('message ID space exhausted')
        t += 1
        random(rnd)
      }
    } else {
      random(rnd)
    }
    lastTime = t
    return encode(t, rnd)
  }
}

/** The process-wide generator. */
export const newMessageId: () => string = createIdGenerator()

/**
 * Both halves as one flat string: built char by char with `+`, V8 would keep a chain of cons strings per ID,
 * several times the memory of the 26 bytes (the engine holds one ID per pending message).
 */
function encode(t: number, bytes: Uint8Array): string {
  const codes = new Array<number>(TIME_CHARS + 16)
  for (let i = TIME_CHARS - 1; i >= 0; i--) {
    codes[i] = CODES[t % 32]!
    t = Math.floor(t / 32)
  }
  // 80 bits → 16 chars, most significant first.
  let acc = 0
  let bits = 0
  let at = TIME_CHARS
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      codes[at++] = CODES[(acc >> bits) & 31]!
    }
    acc &= (1 << bits) - 1
  }
  return String.fromCharCode(...codes)
}

/** Adds one (big-endian); false on overflow. */
function increment(bytes: Uint8Array): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] !== 0xff) {
      bytes[i] = bytes[i]! + 1
      return true
    }
    bytes[i] = 0
  }
  return false
}
