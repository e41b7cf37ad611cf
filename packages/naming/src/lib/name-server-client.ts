/**
 * A client of a Jami-compatible name server (the HTTP protocol of name-server.ts): lookups, reverse lookups and
 * registrations over HTTP instead of the chain. It trusts the server for nothing: every record it returns is
 * verified here with @baran/trust (the account ID is the hash of the key, and the key signed the claim
 * (name, owner, chainId, registry)), so a lying or compromised server can hide names but never forge one.
 */
import { fromBase64Url, idFromPublicKey, nameClaimMessage, toBase64Url, verifyDetached } from '@baran/trust'
import { DEFAULT_NAME_SERVER_TIMEOUT_MS, DEFAULT_REGISTER_TIMEOUT_MS } from './constants.ts'
import {
  ChainUnavailableError,
  ForgedRecordError,
  InvalidClaimError,
  InvalidNameError,
  InsufficientFundsError,
  MissingSignerError,
  NameNotFoundError,
  NameServerError,
  NameTakenError,
} from './errors.ts'
import { describeNameViolation, validateName } from './name-rules.ts'
import type { NameRecord } from './registry-client.ts'

export interface NameServerClientInit {
  /** Base URL of the name server, e.g. `http://127.0.0.1:8080`. */
  url: string
  /** Bound on each lookup. @default 5000 */
  timeoutMs?: number
  /** Bound on a registration (the server waits for its transactions). @default 90000 */
  registerTimeoutMs?: number
}

/** What a claim is bound to: the server's chain and registry (GET /registry). */
export interface ClaimDomain {
  chainId: string
  registry: string
}

/** What a registration sends: the claim signed by the account key (base64url), for the server to pay gas. */
export interface SignedClaim {
  accountId: string
  /** base64url Ed25519 account key */
  publicKey: string
  /** 0x address that will own the name */
  owner: string
  /** base64url signature over nameClaimMessage({ name, owner, chainId, registry }) */
  signature: string
}

const ADDR_RE = /^0x([0-9a-f]{40})$/i
const ETH_RE = /^0x[0-9a-fA-F]{40}$/

function checkName(name: string): void {
  const v = validateName(name)
  if (!v.ok) throw new InvalidNameError(`${JSON.stringify(name)}: ${describeNameViolation(v.reason)}`, { reason: v.reason })
}

/** Verifies a GET /name/:name answer against the claim domain; returns the record or throws ForgedRecordError. */
export function verifyServerRecord(name: string, body: unknown, domain: ClaimDomain): NameRecord {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const { addr, owner, baranPublicKey, baranSignature } = b
  if (b.name !== name) throw new ForgedRecordError(`name server answered for ${JSON.stringify(b.name)}, not ${name}`)
  if (typeof addr !== 'string' || !ADDR_RE.test(addr)) throw new ForgedRecordError(`record of ${name}: no account ID`)
  if (typeof owner !== 'string' || !ETH_RE.test(owner)) throw new ForgedRecordError(`record of ${name}: no owner address`)
  if (typeof baranPublicKey !== 'string' || typeof baranSignature !== 'string') {
    throw new ForgedRecordError(`record of ${name} carries no Baran claim (baranPublicKey, baranSignature): it cannot be verified`)
  }
  const accountId = addr.slice(2).toLowerCase()
  let key: Uint8Array
  try {
    key = fromBase64Url(baranPublicKey)
  } catch (cause) {
    throw new ForgedRecordError(`record of ${name}: the key is not base64url`, { cause })
  }
  if (key.length !== 32 || idFromPublicKey(key) !== accountId) throw new ForgedRecordError(`record of ${name}: the key does not hash to the account ID`)
  const message = nameClaimMessage({ name, owner, chainId: BigInt(domain.chainId), registry: domain.registry })
  let ok = false
  try {
    ok = verifyDetached(message, baranSignature, key)
  } catch {
    ok = false
  }
  if (!ok) throw new ForgedRecordError(`record of ${name}: the account key did not sign this claim`)
  return { name, accountId, publicKey: toBase64Url(key), owner, signature: baranSignature }
}

/** A name-server client: lookups verify, registrations send a claim the account key signed. */
export class NameServerClient {
  readonly url: string
  readonly #timeoutMs: number
  readonly #registerTimeoutMs: number
  #domain: ClaimDomain | undefined

  constructor(init: NameServerClientInit) {
    this.url = init.url.replace(/\/+$/, '')
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_NAME_SERVER_TIMEOUT_MS
    this.#registerTimeoutMs = init.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS
  }

  /** One request; a network failure or a 5xx is ChainUnavailableError (the server is the store here). */
  async #call(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = this.#timeoutMs): Promise<{ status: number; json: Record<string, unknown> }> {
    let res: Response
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      })
    } catch (cause) {
      throw new ChainUnavailableError(`name server ${this.url} did not answer: ${(cause as Error).message}`, { cause })
    }
    const text = await res.text().catch(() => '')
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    if (res.status >= 500 && res.status !== 501) {
      const why = typeof (json as { error?: unknown })?.error === 'string' ? (json as { error: string }).error : `HTTP ${res.status}`
      if (why.includes('gas')) throw new InsufficientFundsError(`name server: ${why}`)
      throw new ChainUnavailableError(`name server ${this.url}: ${why}`)
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new NameServerError(`name server ${this.url}${path} answered HTTP ${res.status} without a JSON object`, { status: res.status })
    }
    return { status: res.status, json: json as Record<string, unknown> }
  }

  /** The chain and registry claims are bound to (GET /registry, Baran's own route); asked once, then kept. */
  async domain(refresh = false): Promise<ClaimDomain> {
    if (this.#domain && !refresh) return this.#domain
    const { status, json } = await this.#call('GET', '/registry')
    if (status !== 200 || typeof json.chainId !== 'string' || !/^\d{1,30}$/.test(json.chainId) || typeof json.registry !== 'string' || !ETH_RE.test(json.registry)) {
      throw new NameServerError(`name server ${this.url} does not say which registry its claims are bound to (GET /registry: HTTP ${status})`, { status })
    }
    this.#domain = { chainId: json.chainId, registry: json.registry }
    return this.#domain
  }

  /** The verified record of `name`: NameNotFoundError when free, ForgedRecordError when it does not verify. */
  async lookup(name: string): Promise<NameRecord> {
    checkName(name)
    const domain = await this.domain()
    const { status, json } = await this.#call('GET', `/name/${encodeURIComponent(name)}`)
    if (status === 404) throw new NameNotFoundError(`${name} is not registered`)
    if (status === 400) throw new InvalidNameError(`name server refused ${JSON.stringify(name)}: ${String(json.error)}`)
    if (status !== 200) throw new NameServerError(`name server lookup of ${name}: HTTP ${status}`, { status })
    return verifyServerRecord(name, json, domain)
  }

  /** The verified name of an account: the server's answer is checked with a lookup of that name. */
  async reverse(accountId: string): Promise<string> {
    const { status, json } = await this.#call('GET', `/addr/0x${accountId}`)
    if (status === 404) throw new NameNotFoundError(`no name for ${accountId}`)
    if (status !== 200 || typeof json.name !== 'string') throw new NameServerError(`name server reverse lookup of ${accountId}: HTTP ${status}`, { status })
    const record = await this.lookup(json.name).catch((e: unknown) => {
      // A name that does not verify (or is gone) names nobody.
      if ((e as { code?: unknown }).code === 'forged_record' || (e as { code?: unknown }).code === 'not_found') return undefined
      throw e
    })
    if (record?.accountId !== accountId) throw new NameNotFoundError(`no verified name for ${accountId}`)
    return record.name
  }

  /**
   * Registers `name` with a signed claim (POST /name/:name); the server pays gas. A retry of the same
   * registration succeeds. Resolves with what the server reports of its transactions (Baran servers do).
   */
  async register(name: string, claim: SignedClaim): Promise<{ txHashes: string[]; blockNumber: number | undefined }> {
    checkName(name)
    const body = { addr: `0x${claim.accountId}`, owner: claim.owner, signature: claim.signature, publickey: claim.publicKey }
    const { status, json } = await this.#call('POST', `/name/${encodeURIComponent(name)}`, body, this.#registerTimeoutMs)
    const why = typeof json.error === 'string' ? json.error : `HTTP ${status}`
    if (status === 200 && json.success === true) {
      const txHashes = Array.isArray(json.txHashes) ? json.txHashes.filter((h): h is string => typeof h === 'string' && /^0x[0-9a-fA-F]{64}$/.test(h)) : []
      const blockNumber = typeof json.blockNumber === 'number' && Number.isSafeInteger(json.blockNumber) && json.blockNumber >= 0 ? json.blockNumber : undefined
      return { txHashes, blockNumber }
    }
    if (status === 409) throw new NameTakenError(`${name} is taken`)
    if (status === 401) throw new InvalidClaimError(`name server refused the claim: ${why}`)
    if (status === 501) throw new MissingSignerError(`name server ${this.url} does not register names`)
    if (status === 400) throw new InvalidNameError(`name server refused ${name}: ${why}`)
    throw new NameServerError(`name server registration of ${name}: ${why}`, { status })
  }
}
