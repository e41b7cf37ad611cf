/**
 * One key/value write as JetStream takes it: a message to `$KV.<bucket>.<key>` (with `Nats-Expected-Last-Subject-
 * Sequence` for a create or an update, `KV-Operation: DEL` for a delete), answered by the stream's acknowledgement.
 * The same protocol messages nats.js's KV sends, through the bus's reply router (replies.ts) instead of nats.js's
 * request and JetStream publish, which cost more per write than the server's work at the outbox's rates.
 */
import { headers, type Msg, type MsgHdrs } from 'nats'
import { BusError, BusErrorCode } from './errors.ts'
import { jsError } from './kv-errors.ts'
import type { ReplyRouter } from './replies.ts'

/** How long a write waits for its acknowledgement (nats.js JetStream's default). */
export const KV_WRITE_TIMEOUT_MS = 5_000
/** The JetStream error code of a write whose expected revision did not hold (`wrong last sequence`). */
const WRONG_LAST_SEQUENCE = 10071
/** Keys as nats.js's KV accepts them (no codec): its own check. */
const VALID_KEY = /^[-/=.\w]+$/
const EXPECTED_LAST = 'Nats-Expected-Last-Subject-Sequence'
const decoder = new TextDecoder()

/** Header sets that never change (nats.js encodes them afresh at every publish and does not modify them). */
const CREATE = headers()
CREATE.set(EXPECTED_LAST, '0')
const DELETE = headers()
DELETE.set('KV-Operation', 'DEL')

/** A status answer (no responders, not found, a bad request): its code, or undefined for a message. */
export function statusOf(m: Msg): number | undefined {
  const h = m.headers
  return h && h.code > 0 && m.data.length === 0 ? h.code : undefined
}

/** A status answer as a BusError (503: JetStream is not there to answer), or undefined for a message. */
export function statusError(m: Msg, what: string): BusError | undefined {
  const status = statusOf(m)
  if (status === 503) return new BusError(BusErrorCode.Unavailable, `${what}: JetStream unavailable (no responders)`)
  if (status !== undefined) return new BusError(BusErrorCode.Internal, `${what}: status ${status} ${m.headers?.description ?? ''}`.trim())
  return undefined
}

/**
 * A write's answer: the new revision, or the BusError of its refusal (`conflict` for an expected revision that did
 * not hold, `unavailable` for a store that cannot write, as jsError classifies every other JetStream failure).
 */
export function writeAck(m: Msg, what: string): number | BusError {
  const failed = statusError(m, what)
  if (failed) return failed
  let ack: { seq?: unknown; error?: { err_code?: number; description?: string } }
  try {
    ack = JSON.parse(decoder.decode(m.data))
  } catch {
    return new BusError(BusErrorCode.Internal, `${what}: an acknowledgement that is not JSON`)
  }
  if (ack.error) {
    // Classified as every other write's failure is; the code of a lost race is checked too (its text may change).
    const refused = jsError(new Error(ack.error.description ?? 'refused'), what)
    return ack.error.err_code === WRONG_LAST_SEQUENCE && refused.code !== BusErrorCode.Conflict ? new BusError(BusErrorCode.Conflict, refused.message, { cause: refused }) : refused
  }
  if (typeof ack.seq !== 'number') return new BusError(BusErrorCode.Internal, `${what}: an acknowledgement without a sequence`)
  return ack.seq
}

/** Why a write got no acknowledgement, as jsError says it for nats.js's own failures. */
function unanswered(e: unknown, what: string): BusError {
  const code = e instanceof BusError ? e.code : undefined
  const msg = (e as Error)?.message ?? String(e)
  if (code === BusErrorCode.Forbidden) return new BusError(BusErrorCode.Forbidden, `${what}: JetStream refused for this user`, { cause: e })
  if (code === BusErrorCode.NoResponder || code === BusErrorCode.Timeout || code === BusErrorCode.Closed) {
    return new BusError(BusErrorCode.Unavailable, `${what}: JetStream unavailable (${msg})`, { cause: e })
  }
  return new BusError(BusErrorCode.Internal, `${what}: ${msg}`, { cause: e })
}

export type KvWrite = { kind: 'put' } | { kind: 'create' } | { kind: 'update'; revision: number } | { kind: 'delete' }

/** Writes one key and returns its new revision; throws a BusError. */
export async function writeKey(replies: ReplyRouter, bucket: string, key: string, value: Uint8Array, write: KvWrite): Promise<number> {
  const what = `${write.kind} ${bucket}/${key}`
  if (key.startsWith('.') || key.endsWith('.') || !VALID_KEY.test(key)) throw new BusError(BusErrorCode.Internal, `${what}: invalid key: ${key}`)
  let h: MsgHdrs | undefined
  if (write.kind === 'create') h = CREATE
  else if (write.kind === 'delete') h = DELETE
  else if (write.kind === 'update') {
    if (!Number.isSafeInteger(write.revision) || write.revision <= 0) throw new BusError(BusErrorCode.Internal, `${what}: revision must be a positive integer`)
    h = headers()
    h.set(EXPECTED_LAST, String(write.revision))
  }
  let m: Msg
  try {
    m = await replies.request(`$KV.${bucket}.${key}`, write.kind === 'delete' ? new Uint8Array(0) : value, { timeoutMs: KV_WRITE_TIMEOUT_MS, ...(h ? { headers: h } : {}) })
  } catch (e) {
    throw unanswered(e, what)
  }
  const r = writeAck(m, what)
  if (r instanceof BusError) throw r
  return r
}
