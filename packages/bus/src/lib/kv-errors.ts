import { BusError, BusErrorCode } from './errors.ts'

/** A JetStream failure as a BusError: a lost race, a refusal, an unavailable store, or anything else (internal). */
export function jsError(e: unknown, what: string): BusError {
  const msg = (e as Error)?.message ?? String(e)
  if (/wrong last sequence|key exists/i.test(msg)) return new BusError(BusErrorCode.Conflict, `${what}: changed concurrently or exists`, { cause: e })
  if (/permissions violation/i.test(msg)) return new BusError(BusErrorCode.Forbidden, `${what}: JetStream refused for this user`, { cause: e })
  // The store cannot write (disk full, read-only, I/O error; nats-server then disables JetStream): unavailable too.
  if (/timeout|no responders|disconnect|closed|jetstream not enabled|no space left|insufficient (storage|resources)|read-only file system|input\/output error/i.test(msg)) {
    return new BusError(BusErrorCode.Unavailable, `${what}: JetStream unavailable (${msg})`, { cause: e })
  }
  return new BusError(BusErrorCode.Internal, `${what}: ${msg}`, { cause: e })
}
