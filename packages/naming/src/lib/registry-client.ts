/**
 * Client of the on-chain registry: commit–reveal registration and lookups that VERIFY each
 * record (the account ID must be the hash of the public key, and the account key must have
 * signed the name claim), since the contract cannot check Ed25519 signatures itself.
 */
import {
  AbiCoder,
  Contract,
  getAddress,
  hexlify,
  isAddress,
  keccak256,
  type Provider,
  randomBytes,
  type Signer,
  ZeroAddress,
} from 'ethers'
import { fromBase64Url, fromHex, idFromPublicKey, isId, nameClaimMessage, toBase64Url, verifyDetached } from '@baran/trust'
import { registryAbi } from '../generated/registry-artifact.ts'
import { registryErrorName, toNamingError, withTimeout } from './chain-errors.ts'
import {
  DEFAULT_BLOCK_POLL_MS,
  DEFAULT_RPC_TIMEOUT_MS,
  DEFAULT_TX_TIMEOUT_MS,
  MAX_REVERSE_NAMES,
} from './constants.ts'
import {
  ChainUnavailableError,
  ForgedRecordError,
  InvalidAccountIdError,
  InvalidClaimError,
  InvalidNameError,
  isNamingError,
  MissingSignerError,
  NameNotFoundError,
  NameTakenError,
  RegistryError,
} from './errors.ts'
import type { Logger } from './logger.ts'
import { describeNameViolation, validateName } from './name-rules.ts'

export interface RegistryClientInit {
  /** Any ethers provider (createProvider() gives one tuned for a local chain). */
  provider: Provider
  /** 0x address of the deployed registry. */
  registry: string
  /** Pays gas for register(); lookups need none. */
  signer?: Signer
  /** Chain id the claims are bound to. @default asked from the provider once */
  chainId?: bigint | number
  /** Bound on each read. @default 10000 */
  rpcTimeoutMs?: number
  /** Bound on waiting for a transaction (or a block) to be mined. @default 120000 */
  txTimeoutMs?: number
  /** How often to poll for receipts and blocks. @default 50 */
  pollMs?: number
  /** Names a reverse lookup reads for one account. @default 16 */
  maxReverseNames?: number
  log?: Logger
}

/** A verified registry record. */
export interface NameRecord {
  name: string
  /** 40 lowercase hex characters */
  accountId: string
  /** base64url Ed25519 account public key */
  publicKey: string
  /** checksummed 0x address that owns the name */
  owner: string
  /** base64url Ed25519 signature by the account key over nameClaimMessage */
  signature: string
}

/** Signs a name claim with the account key; returns a base64url Ed25519 signature. */
export type SignClaim = (message: Uint8Array) => Promise<string>

export interface RegisterOptions {
  accountId: string
  /** base64url Ed25519 account public key */
  publicKey: string
  signClaim: SignClaim
  /** Address that owns the name. @default the signer's address */
  owner?: string
  /** Told of each step, for progress reports (a throwing listener does not stop the registration). */
  onProgress?: (p: RegisterProgress) => void
}

/** A registration step: the commit is being sent / was mined, the reveal is being sent. */
export interface RegisterProgress {
  phase: 'committing' | 'committed' | 'revealing'
  txHash?: string
}

export interface RegisterResult {
  /** [commit, reveal] */
  txHashes: string[]
  /** Block of the reveal. */
  blockNumber: number
}

const coder = AbiCoder.defaultAbiCoder()

/**
 * The commitment of a registration, equal to the registry's makeCommitment: keccak256 of
 * abi.encode(name, owner, secret, accountId, publicKey, signature). It binds the whole record.
 */
export function computeCommitment(r: {
  name: string
  owner: string
  secret: string
  accountId: string
  publicKey: string
  signature: string
}): string {
  return keccak256(
    coder.encode(
      ['string', 'address', 'bytes32', 'bytes20', 'bytes32', 'bytes'],
      [r.name, r.owner, r.secret, r.accountId, r.publicKey, r.signature],
    ),
  )
}

/** Throws InvalidNameError unless `name` follows NAME_RULES. */
export function assertValidName(name: unknown): asserts name is string {
  const v = validateName(name)
  if (!v.ok) throw new InvalidNameError(describeNameViolation(v.reason), { reason: v.reason })
}

interface RawRecord {
  owner: string
  accountId: string
  publicKey: string
  signature: string
}

export class RegistryClient {
  readonly registry: string
  readonly provider: Provider
  readonly signer: Signer | undefined
  readonly #reader: Contract
  readonly #writer: Contract | undefined
  readonly #rpcTimeoutMs: number
  readonly #txTimeoutMs: number
  readonly #pollMs: number
  readonly #maxReverse: number
  readonly #log: Logger | undefined
  #chainId: Promise<bigint> | undefined
  // Transactions leave one at a time, so that the signer's nonces never collide.
  #sendQueue: Promise<unknown> = Promise.resolve()

  constructor(init: RegistryClientInit) {
    if (!isAddress(init.registry)) throw new RegistryError('registry must be a 0x address')
    this.registry = getAddress(init.registry)
    this.provider = init.provider
    this.signer = init.signer
    this.#reader = new Contract(this.registry, registryAbi, init.provider)
    this.#writer = init.signer ? new Contract(this.registry, registryAbi, init.signer) : undefined
    this.#rpcTimeoutMs = init.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
    this.#txTimeoutMs = init.txTimeoutMs ?? DEFAULT_TX_TIMEOUT_MS
    this.#pollMs = init.pollMs ?? DEFAULT_BLOCK_POLL_MS
    this.#maxReverse = init.maxReverseNames ?? MAX_REVERSE_NAMES
    this.#log = init.log
    if (init.chainId !== undefined) this.#chainId = Promise.resolve(BigInt(init.chainId))
  }

  /** The chain id that name claims are bound to. */
  chainId(): Promise<bigint> {
    if (!this.#chainId) {
      const p = this.#read('chainId', async () => (await this.provider.getNetwork()).chainId)
      this.#chainId = p
      p.catch(() => {
        if (this.#chainId === p) this.#chainId = undefined // retry next time
      })
    }
    return this.#chainId
  }

  /** The exact bytes the account key signs to register `name` for `owner` on this registry. */
  async claimMessage(name: string, owner: string): Promise<Uint8Array> {
    assertValidName(name)
    if (!isAddress(owner)) throw new InvalidClaimError('owner must be a 0x address')
    return nameClaimMessage({ name, owner, chainId: await this.chainId(), registry: this.registry })
  }

  /** The verified record of `name`. NameNotFoundError when free, ForgedRecordError when it does not verify. */
  async lookup(name: string): Promise<NameRecord> {
    assertValidName(name)
    const raw = await this.#readRecord(name)
    if (raw.owner === ZeroAddress) throw new NameNotFoundError(`name not registered: ${name}`)
    return this.#verify(name, raw, await this.chainId())
  }

  /** The first of an account's names (at most maxReverseNames read) whose record verifies. */
  async reverse(accountId: string): Promise<string> {
    const id = typeof accountId === 'string' ? accountId.toLowerCase().replace(/^0x/, '') : accountId
    if (!isId(id)) throw new InvalidAccountIdError()
    const names = Array.from(
      (await this.#read('namesOfRange', () =>
        this.#reader.getFunction('namesOfRange').staticCall(`0x${id}`, 0, this.#maxReverse),
      )) as string[],
    )
    // Read candidates in parallel; answer with the earliest registered one that verifies.
    const results = await Promise.allSettled(names.map((n) => this.lookup(n)))
    for (const r of results) {
      if (r.status === 'fulfilled' && r.value.accountId === id) return r.value.name
      if (r.status === 'rejected' && !isNamingError(r.reason, 'forged_record') && !isNamingError(r.reason, 'not_found') && !isNamingError(r.reason, 'invalid_name')) {
        throw r.reason
      }
    }
    throw new NameNotFoundError(`no verified name for account ${id}`)
  }

  /**
   * Registers `name` for an account: checks the rule, the claim and that the name is free,
   * then commit → (a later block) → reveal. The signer pays gas; `owner` defaults to it.
   */
  async register(name: string, opts: RegisterOptions): Promise<RegisterResult> {
    assertValidName(name)
    const writer = this.#writer
    const signer = this.signer
    if (!writer || !signer) throw new MissingSignerError()
    if (!isId(opts.accountId)) throw new InvalidAccountIdError()
    let publicKey: Uint8Array
    try {
      publicKey = fromBase64Url(opts.publicKey)
    } catch (cause) {
      throw new InvalidClaimError('public key is not base64url', { cause })
    }
    if (publicKey.length !== 32) throw new InvalidClaimError('public key must be 32 bytes')
    if (idFromPublicKey(publicKey) !== opts.accountId) {
      throw new InvalidClaimError('account id is not the hash of the public key')
    }
    if (opts.owner !== undefined && !isAddress(opts.owner)) throw new InvalidClaimError('owner must be a 0x address')
    const owner = getAddress(opts.owner ?? (await signer.getAddress()))

    const message = nameClaimMessage({ name, owner, chainId: await this.chainId(), registry: this.registry })
    const signature = await opts.signClaim(message)
    if (!verifyDetached(message, signature, publicKey)) {
      throw new InvalidClaimError('the account key did not sign this name claim')
    }
    // Fail early (and without gas) when the name is already taken.
    if ((await this.#readRecord(name)).owner !== ZeroAddress) throw new NameTakenError(`name already registered: ${name}`)

    const args = {
      name,
      owner,
      secret: hexlify(randomBytes(32)),
      accountId: `0x${opts.accountId}`,
      publicKey: hexlify(publicKey),
      signature: hexlify(fromBase64Url(signature)),
    }
    const progress = (p: RegisterProgress): void => {
      try {
        opts.onProgress?.(p)
      } catch (e) {
        this.#log?.warn({ err: e, name }, 'progress listener failed')
      }
    }
    const deadline = Date.now() + this.#txTimeoutMs
    const commitment = computeCommitment(args)
    progress({ phase: 'committing' })
    let commitHash: string
    try {
      commitHash = await this.#send('commit', () => writer.getFunction('commit').send(commitment))
    } catch (e) {
      throw toNamingError(e, 'commit')
    }
    await this.#waitMined(commitHash, 'commit', deadline)
    const committedAt = (await this.#read('commitments', () =>
      this.#reader.getFunction('commitments').staticCall(commitment),
    )) as bigint
    if (committedAt === 0n) throw new RegistryError('commit was mined but the registry has no such commitment')
    this.#log?.debug({ name, commitHash, committedAt: Number(committedAt) }, 'name committed')
    progress({ phase: 'committed', txHash: commitHash })
    progress({ phase: 'revealing' })

    const revealArgs = [args.name, args.owner, args.secret, args.accountId, args.publicKey, args.signature]
    let revealHash: string | undefined
    for (let attempt = 0; revealHash === undefined; attempt++) {
      try {
        revealHash = await this.#send('reveal', () => writer.getFunction('reveal').send(...revealArgs))
      } catch (e) {
        // A node that estimates gas against the latest block (not the pending one) sees the
        // commit as too new until the next block: wait for it, then try again.
        if (attempt < 3 && registryErrorName(e) === 'CommitmentTooNew') {
          this.#log?.debug({ name, attempt, committedAt: Number(committedAt) }, 'commitment too new for this node: waiting for a block')
          await this.#waitForBlockAfter(Number(committedAt) + attempt, deadline)
          continue
        }
        throw toNamingError(e, 'reveal')
      }
    }
    const blockNumber = await this.#waitMined(revealHash, 'reveal', deadline, () =>
      writer.getFunction('reveal').staticCall(...revealArgs),
    )
    this.#log?.info({ name, accountId: opts.accountId, owner, blockNumber }, 'name registered')
    return { txHashes: [commitHash, revealHash], blockNumber }
  }

  async #readRecord(name: string): Promise<RawRecord> {
    const r = (await this.#read('lookup', () => this.#reader.getFunction('lookup').staticCall(name))) as unknown as [
      string,
      string,
      string,
      string,
    ]
    return { owner: r[0], accountId: r[1], publicKey: r[2], signature: r[3] }
  }

  #verify(name: string, raw: RawRecord, chainId: bigint): NameRecord {
    const accountId = raw.accountId.slice(2).toLowerCase()
    const publicKey = fromHex(raw.publicKey.slice(2))
    const signature = fromHex(raw.signature.slice(2))
    if (idFromPublicKey(publicKey) !== accountId) {
      throw new ForgedRecordError(`record of ${name}: public key does not match account id`)
    }
    const message = nameClaimMessage({ name, owner: raw.owner, chainId, registry: this.registry })
    if (!verifyDetached(message, signature, publicKey)) {
      throw new ForgedRecordError(`record of ${name}: bad account signature`)
    }
    return {
      name,
      accountId,
      publicKey: toBase64Url(publicKey),
      owner: getAddress(raw.owner),
      signature: toBase64Url(signature),
    }
  }

  /** A bounded read, with failures mapped to typed errors. */
  async #read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(fn(), this.#rpcTimeoutMs, what)
    } catch (e) {
      throw toNamingError(e, what)
    }
  }

  /** Sends one transaction (queued behind earlier ones); returns its hash. Errors stay raw. */
  #send(what: string, fn: () => Promise<{ hash: string }>): Promise<string> {
    const run = this.#sendQueue.then(async () => (await withTimeout(fn(), this.#rpcTimeoutMs, what)).hash)
    this.#sendQueue = run.catch(() => undefined)
    return run
  }

  /**
   * Polls for the receipt of `hash` until the deadline; returns its block. A reverted
   * transaction is replayed with `diagnose` to find out which registry error it hit.
   */
  async #waitMined(hash: string, what: string, deadline: number, diagnose?: () => Promise<unknown>): Promise<number> {
    for (let polls = 0; Date.now() < deadline && polls < 1_000_000; polls++) {
      const receipt = await this.#read(`${what} receipt`, () => this.provider.getTransactionReceipt(hash))
      if (receipt) {
        if (receipt.status === 1) return receipt.blockNumber
        if (diagnose) {
          try {
            await diagnose()
          } catch (e) {
            throw toNamingError(e, what)
          }
        }
        throw new RegistryError(`${what} transaction ${hash} reverted`)
      }
      await sleep(this.#pollMs)
    }
    throw new ChainUnavailableError(`${what}: transaction ${hash} not mined in time`)
  }

  async #waitForBlockAfter(block: number, deadline: number): Promise<void> {
    for (let polls = 0; Date.now() < deadline && polls < 1_000_000; polls++) {
      if ((await this.#read('blockNumber', () => this.provider.getBlockNumber())) > block) return
      await sleep(this.#pollMs)
    }
    throw new ChainUnavailableError(`no block after ${block} in time`)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
