/**
 * `baran devices link`: device linking by PIN (Jami's "link another device").
 *
 * On the existing device it asks identity for the account sealed under a fresh PIN and stores the sealed
 * value on the DHT for 10 minutes, then prints the PIN. On the new device (`--pin`) it derives the offer's
 * location from the PIN, fetches it (retrying while the DHT joins), has identity open and import it as a
 * new device of the account, and deletes the offer. Discovery only ever carries sealed bytes.
 */
import { Backoff } from '@baran/actor/recurring'
import {
  type AccountSummary,
  type Bus,
  BusError,
  BusErrorCode,
  discoveryDeleteValue,
  discoveryGetValue,
  discoveryPutValue,
  errorCodeOf,
  identityLinkAccept,
  identityLinkLocate,
  identityLinkOffer,
  identityStatus,
} from '@baran/bus'
import { setTimeout as sleep } from 'node:timers/promises'
import { connectCli, type NodeSelection } from './connect.ts'
import { CliError, Exit, formatDuration, paint, printJson } from './output.ts'

/** How long an offer lives on the DHT (the identity contract's upper bound). */
const OFFER_TTL_MS = 10 * 60_000
/** How long the new device keeps looking for the offer (its DHT may still be joining the network). */
const DEFAULT_WAIT_MS = 20_000
const FIRST_RETRY_MS = 500

export type LinkOpts = NodeSelection & { json?: boolean; pin?: string; deviceName?: string; ttlMs?: number; waitMs?: number }

const NO_OFFER = 'no link offer for this PIN: wrong PIN, or it expired (offers last 10 minutes)'
const NO_OFFER_HINT = 'check the PIN shown on the other device, or run `baran devices link` there again for a new one'

export async function devicesLink(opts: LinkOpts): Promise<number> {
  const { bus } = await connectCli(opts)
  try {
    return opts.pin === undefined ? await offer(bus, opts) : await accept(bus, opts.pin, opts)
  } finally {
    await bus.close()
  }
}

/** Progress goes to stderr, and not at all with --json (stdout stays one JSON document). */
function progress(opts: LinkOpts, text: string): void {
  if (!opts.json) process.stderr.write(paint('gray', `${text}\n`))
}

/** The existing device: seal the account under a fresh PIN, store it on the DHT, show the PIN. */
async function offer(bus: Bus, opts: LinkOpts): Promise<number> {
  const status = await bus.request(identityStatus, {})
  if (!status.account) {
    throw new CliError('this node holds no account to link another device to', {
      hint: 'on the NEW device run `baran devices link --pin <PIN>`; on this one, `baran account create` first',
    })
  }
  const ttlMs = opts.ttlMs ?? OFFER_TTL_MS
  progress(opts, 'sealing the account under a new PIN (memory-hard key derivation)…')
  const sealed = await bus.request(identityLinkOffer, opts.ttlMs === undefined ? {} : { ttlMs }, { timeoutMs: 60_000 }).catch((e: unknown) => {
    throw asCliError(e, 'cannot make a link offer')
  })
  progress(opts, 'storing the sealed offer on the DHT…')
  const put = await bus
    .request(discoveryPutValue, { key: sealed.key, value: sealed.value, ttlMs, deleteToken: sealed.deleteToken }, { timeoutMs: 30_000 })
    .catch((e: unknown) => {
      throw asCliError(e, 'cannot store the link offer on the DHT', 'is the discovery actor running? (`baran status`)')
    })
  if (opts.json) {
    printJson({ pin: sealed.pin, expiresAt: put.expiresAt, stored: put.stored })
    return Exit.Ok
  }
  const at = new Date(put.expiresAt)
  process.stdout.write(`${paint('bold', 'PIN')} ${paint('green', sealed.pin)}\n`)
  process.stdout.write(`  on the new device run: baran devices link --pin ${sealed.pin}\n`)
  process.stdout.write(`  expires at ${at.toLocaleTimeString()} (in ${formatDuration(put.expiresAt - Date.now())}); anyone with the PIN gets the account until then\n`)
  if (put.stored === 0) process.stdout.write(`${paint('yellow', '  no other DHT node holds the offer yet: keep this node running until the new device has linked')}\n`)
  return Exit.Ok
}

/** The new device: find the offer of the PIN, open and import it, delete it. */
async function accept(bus: Bus, pin: string, opts: LinkOpts): Promise<number> {
  const status = await bus.request(identityStatus, {})
  if (status.account) {
    throw new CliError(`this node already holds account ${status.account.accountId} (a node holds one account)`, {
      hint: 'run `baran devices link --pin <PIN>` on a node without an account (a fresh data dir)',
    })
  }
  progress(opts, 'deriving the offer location from the PIN (memory-hard key derivation)…')
  const loc = await bus.request(identityLinkLocate, { pin }, { timeoutMs: 30_000 }).catch((e: unknown) => {
    throw asCliError(e, 'cannot use this PIN')
  })
  const value = await fetchOffer(bus, loc.key, opts)
  progress(opts, 'opening the offer with the PIN (memory-hard key derivation)…')
  const account = await bus
    .request(identityLinkAccept, { pin, value, ...(opts.deviceName ? { deviceName: opts.deviceName } : {}) }, { timeoutMs: 60_000 })
    .catch((e: unknown) => {
      throw asCliError(e, 'cannot link this device')
    })
  progress(opts, 'removing the used offer from the DHT…')
  const offerDeleted = await bus
    .request(discoveryDeleteValue, { key: loc.key, deleteToken: loc.deleteToken }, { timeoutMs: 30_000 })
    .then((r) => r.deleted)
    .catch(() => false)
  if (opts.json) {
    printJson({ ...account, offerDeleted })
    return Exit.Ok
  }
  printLinked(account, offerDeleted)
  return Exit.Ok
}

/** getValue with back-off until found or `waitMs` has passed: a node that just started may not have joined the DHT yet. */
async function fetchOffer(bus: Bus, key: string, opts: LinkOpts): Promise<string> {
  const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS
  const deadline = Date.now() + waitMs
  // Capped at the whole wait: a longer pause would pass the deadline anyway.
  const backoff = new Backoff({ initialMs: FIRST_RETRY_MS, maxMs: Math.max(FIRST_RETRY_MS, waitMs) })
  let last: unknown
  for (let attempt = 1; ; attempt++) {
    progress(opts, attempt === 1 ? 'looking for the offer on the DHT…' : `still looking (attempt ${attempt})…`)
    try {
      return (await bus.request(discoveryGetValue, { key }, { timeoutMs: 15_000 })).value
    } catch (e) {
      last = e
      if (!(e instanceof BusError)) throw e
    }
    const wait = backoff.next()
    if (Date.now() + wait > deadline) break
    await sleep(wait)
  }
  if (last instanceof BusError && errorCodeOf(last, discoveryGetValue) !== BusErrorCode.NotFound) {
    throw new CliError(`cannot look the offer up on the DHT: ${last.message}`, { hint: 'is the discovery actor running? (`baran status`)' })
  }
  throw new CliError(NO_OFFER, { hint: NO_OFFER_HINT })
}

/** A clear message for what identity or discovery answered. */
function asCliError(e: unknown, what: string, hint?: string): CliError {
  if (!(e instanceof BusError)) return new CliError(`${what}: ${(e as Error).message}`, { cause: e })
  switch (errorCodeOf(e, identityLinkOffer, identityLinkLocate, identityLinkAccept, discoveryPutValue, discoveryGetValue)) {
    case 'invalid_pin':
      return new CliError(`invalid PIN: ${e.message}`, { exitCode: Exit.Usage, hint: 'type the 8 characters shown on the other device, e.g. ABCD-EFGH' })
    case 'wrong_pin':
      return new CliError('the link offer does not open with this PIN (wrong PIN)', { hint: NO_OFFER_HINT })
    case 'link_expired':
      return new CliError(NO_OFFER, { hint: NO_OFFER_HINT })
    case 'malformed_link':
      return new CliError('what is stored for this PIN is not a link offer (wrong PIN?)', { hint: NO_OFFER_HINT })
    case 'account_exists':
      return new CliError(`${what}: ${e.message}`, { hint: 'a node holds one account: link a node that has none' })
    case 'link_too_large':
      return new CliError(`${what}: ${e.message}`, { hint: 'use `baran account export <file>` and `baran account import <file>` instead' })
    default:
      return new CliError(`${what}: ${e.message}`, { cause: e, ...(hint ? { hint } : {}) })
  }
}

function printLinked(a: AccountSummary, offerDeleted: boolean): void {
  process.stdout.write(`${paint('bold', 'linked')}: this node is now a device of account ${a.accountId}\n`)
  process.stdout.write(`  device   ${a.deviceId} (${a.deviceName})\n  ethereum ${a.ethAddress}\n`)
  process.stdout.write(`  devices  ${a.devices.map((d) => `${d.name}${d.current ? ' (this one)' : ''}`).join(', ')}\n`)
  if (!offerDeleted) process.stdout.write(`${paint('yellow', '  the offer could not be removed from the DHT: it expires by itself within 10 minutes')}\n`)
}
