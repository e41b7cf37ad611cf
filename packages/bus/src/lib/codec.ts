import { BusError, BusErrorCode } from './errors.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Bodies travel as UTF-8 JSON: readable with `nats sub`, and every language speaks it. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value))
}

/** Parses a body; anything that is not UTF-8 JSON is an `invalid_request` (or `invalid_reply`). */
export function decodeJson(data: Uint8Array, code: string = BusErrorCode.InvalidRequest): unknown {
  if (data.length === 0) return undefined
  try {
    return JSON.parse(decoder.decode(data))
  } catch (e) {
    throw new BusError(code, 'body is not valid UTF-8 JSON', { cause: e })
  }
}

/** A zod error, reduced to plain data that survives JSON and names each failing field. */
export function issuesOf(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; code: string; message: string }> }) {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), code: i.code, message: i.message }))
}
