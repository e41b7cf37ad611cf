/** The delivery engine's public types: its dependencies, options, clock and events. */
import type { BackoffPolicy } from './backoff.ts'
import type { DeliveryStateValue } from './delivery-machine.ts'
import type { OutboxRecordBucket, OutgoingRecord } from './records.ts'

/** Time and timers, injectable so tests can drive back-off and expiry without waiting. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

/** One device of an account as discovery sees it. */
export interface DevicePresenceInfo {
  deviceId: string
  online: boolean
  peerId?: string | undefined
  addrs: string[]
}

export interface AccountDevices {
  devices: DevicePresenceInfo[]
  revoked: string[]
}

/** Where the engine's work goes: the actor wires these to discovery and transport over the bus. */
export interface DeliveryDeps {
  store: OutboxRecordBucket
  /** An account's devices (from its signed device list) with their current addresses, and its revoked devices. */
  lookupAccount(accountId: string, signal: AbortSignal): Promise<AccountDevices>
  /**
   * Delivers one payload; resolves only when the remote node acked (stored or duplicate). A failure's `code`
   * decides what happens: `rejected` (and an envelope refused as invalid) is final; anything else retries.
   */
  send(req: { peerId: string; addrs: string[]; id: string; payload: Uint8Array }, signal: AbortSignal): Promise<unknown>
  /**
   * What goes to one device: the record's payload sealed to that device (an envelope). A failure's `code` decides
   * like a send's: `no_encryption_key`, `bad_recipient` and `too_large` are final; anything else retries.
   */
  seal(req: SealRequest, signal: AbortSignal): Promise<Uint8Array>
  /**
   * Optional: deposits a device's envelope (what `seal` made) in its DHT mailbox, for when the device is not
   * reachable. Called once per (message, device) after the first failed direct attempt; direct attempts go on.
   */
  deposit?(req: { deviceId: string; envelope: Uint8Array }, signal: AbortSignal): Promise<unknown>
  /** Ask to hear when the account's devices come online (discovery.watch). */
  watch(accountId: string): Promise<void>
  unwatch(accountId: string): Promise<void>
}

/** One delivery to seal: the record, the device, its account (the recipient's, or ours for a sync copy). */
export interface SealRequest {
  record: OutgoingRecord
  deviceId: string
  account: string
  sync: boolean
}

/** A per-device state change, for outbox.evt.delivery. `deviceId` is absent for a message that expired unresolved. */
export interface DeliveryChange {
  id: string
  kind: 'message' | 'receipt'
  to: string
  deviceId?: string
  sync?: boolean
  state: DeliveryStateValue
  attempts: number
  at: number
  error?: string
  /** Set (to the time) when the envelope was just deposited in the device's DHT mailbox; the delivery stays queued. */
  deposited?: number
}

export interface EngineLogger {
  debug(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface DeliveryEngineInit {
  clock?: Clock
  /** [0, 1) like Math.random: the back-off jitter. */
  random?: () => number
  /** @default 64 */
  maxInFlight?: number
  backoff?: BackoffPolicy
  /** @default 5000 */
  lookupFreshMs?: number
  /** @default 60000 */
  lookupUsableMs?: number
  /** @default 300000 */
  watchRefreshMs?: number
  log?: EngineLogger
  onChange?(change: DeliveryChange): void
}
