/**
 * SealedKeyring: the one holder of this node's private keys (account, device, Ethereum). Keeps
 * one file in its directory, replaced atomically on every change; mutations run one at a time,
 * and the in-memory state changes only after the new file is safely on disk.
 */
import { hostname } from 'node:os'
import {
  type BodyOf,
  type DeviceCertBody,
  encryptionKeyPairFromSeed,
  fromBase64Url,
  generateKeyPair,
  idFromPublicKey,
  isId,
  type RecordType,
  type SignedRecord,
  type SignerRole,
} from '@baran/trust'
import { Wallet } from 'ethers'
import { checkDeviceName, type NewDevice, newAccountPayload, normalizeDeviceName, refreshed, type SignContext, withDevice, withRevoked } from './account.ts'
import { type AccountPayload, type Block, type Contact, decodeArchive, encodeArchive, type JsonObject } from './archive.ts'
import { ACCOUNT_STATE_PART, type AccountStateKind, type MergeResult, mergeRegisters, partOf, type Register, registersOf } from './account-state.ts'
import { type ConversationNameEntry, conversationNamesOf, withConversationName, withoutConversationName } from './conversation-names.ts'
import { type AccountChange, checkContact, withBlock, withContact, withoutBlock, withoutContact, type Writer } from './contacts.ts'
import { DEFAULT_PEER_BINDING_TTL_MS, DEFAULT_REFRESH_WINDOW_MS, DEFAULT_SCRYPT, STORE_FILE } from './constants.ts'
import { newSealingKeys, type SealingKeys } from './container.ts'
import { newEncryptionKey, withDeviceEncryptionKey } from './device-encryption-key.ts'
import { AccountExistsError, InvalidArgumentError, NoAccountError, OwnDeviceError, StoreNotLoadedError } from './errors.ts'
import { readFileIfExists, removeStaleTemps, writeFileAtomic } from './fs.ts'
import type { ScryptParams } from './kdf.ts'
import type { LinkKdf } from './link.ts'
import { type LinkOffer, openLinkOffer, sealLinkOffer } from './link-offer.ts'
import { signDetachedAs, signRecordAs } from './signing-policy.ts'
import { accountIdOf, accountInfoOf, checkedConfig, checkPassword, decodePublicKey, deviceIdOf, ownDeviceCert } from './store-content.ts'
import { decodeStoreFile, encodeStoreFile, type StoreContent } from './store-file.ts'
import type { AccountInfo, SealedKeyringInit, Logger, RecordRequest } from './store-types.ts'
import { type MergeOutcome, mergeDeviceLists, type RemoteDeviceList } from './sync.ts'

export type { AccountInfo, DeviceInfo, SealedKeyringInit, Logger, RecordRequest } from './store-types.ts'

/** The key store: account, device and Ethereum keys, certificates, contacts, archive export/import. */
export class SealedKeyring {
  readonly dir: string
  private readonly passphrase: string | undefined
  private readonly clock: () => number
  private readonly kdf: ScryptParams
  private readonly log: Logger | undefined
  private loaded = false
  private content: StoreContent | undefined
  private sealing: SealingKeys | undefined
  private wallet: Wallet | undefined
  private encKeys: { seed: Uint8Array; privateKey: Uint8Array; publicKey: Uint8Array } | undefined
  private lastSeq = 0
  private queue: Promise<unknown> = Promise.resolve()

  constructor(init: SealedKeyringInit) {
    if (typeof init?.dir !== 'string' || init.dir.length === 0) throw new InvalidArgumentError('dir must be a non-empty string')
    if (init.passphrase !== undefined) checkPassword(init.passphrase)
    this.dir = init.dir
    this.passphrase = init.passphrase
    this.clock = init.now ?? Date.now
    this.kdf = init.kdf ?? DEFAULT_SCRYPT
    this.log = init.log
  }

  /**
   * Reads the store file (none yet: no account). Throws PassphraseRequiredError,
   * StoreNotSealedError, WrongPasswordError or CorruptStoreError. Safe to call again to reload.
   */
  async load(): Promise<void> {
    await this.exclusive(() => this.loadNow())
  }

  /** True once the store holds an account. */
  hasAccount(): boolean {
    this.requireLoaded()
    return this.content !== undefined
  }

  /** Creates the account, this node's device and its certificate. Throws AccountExistsError. */
  async createAccount(opts: { deviceName?: string } = {}): Promise<AccountInfo> {
    const deviceName = opts.deviceName === undefined ? normalizeDeviceName(hostname()) : checkDeviceName(opts.deviceName)
    return this.exclusive(async () => {
      await this.ensureLoaded()
      if (this.content) throw new AccountExistsError()
      const now = this.clock()
      const account = generateKeyPair()
      const device = generateKeyPair()
      const enc = await newEncryptionKey()
      const eth = Wallet.createRandom()
      const ctx: SignContext = { accountSecretKey: account.secretKey, now }
      const payload = newAccountPayload(
        ctx,
        { privateKey: eth.privateKey, address: eth.address },
        { publicKey: device.publicKey, name: deviceName, encKey: enc.publicKey },
        this.nextSeq(),
      )
      await this.commit({ account: payload, deviceSecretKey: device.secretKey, encSeed: enc.seed })
      const info = this.info()
      this.log?.info({ accountId: info.accountId, deviceId: info.deviceId }, 'account created')
      return info
    })
  }

  /** The account, this device and the current records. Throws NoAccountError. */
  info(): AccountInfo {
    return accountInfoOf(this.requireAccount())
  }

  /**
   * What opening an envelope needs of the account, without info()'s copies (three record clones a call): its ID and
   * its revocation list, for read-only use (a caller must not change it). Throws NoAccountError.
   */
  openContext(): { accountId: string; revocations: AccountInfo['revocations'] } {
    const content = this.requireAccount()
    return { accountId: accountIdOf(content), revocations: content.account.revocations }
  }

  /** Binds a libp2p PeerId to this device ('peer-binding' signed by the device key). */
  issuePeerBinding(peerId: string, opts: { ttlMs?: number } = {}): SignedRecord<BodyOf<'peer-binding'>> {
    if (typeof peerId !== 'string' || peerId.length < 1 || peerId.length > 128) {
      throw new InvalidArgumentError('peerId must be a string of 1..128 characters')
    }
    const content = this.requireAccount() // not info(): it copies three records
    const body = { accountId: accountIdOf(content), deviceId: deviceIdOf(content), peerId }
    return this.signRecord(
      { type: 'peer-binding', body, ttlMs: opts.ttlMs ?? DEFAULT_PEER_BINDING_TTL_MS },
      'device',
    )
  }

  /**
   * Signs a record for another actor (e.g. 'presence' with the device key). Refuses
   * (ForbiddenSigningError) the account-level types (device-cert, device-list, revocations: use
   * certifyDevice/revokeDevice), a key other than the type's signer, and bodies naming another
   * account or device. Body errors come from @baran/trust (MalformedRecordError, UnknownRecordTypeError).
   */
  signRecord<T extends RecordType>(req: RecordRequest<T>, as: SignerRole): SignedRecord<BodyOf<T>> {
    return signRecordAs(this.requireAccount(), req, as, { now: () => this.clock(), nextSeq: () => this.nextSeq() })
  }

  /**
   * Ed25519 signature (base64url) of `message`. Refuses (ForbiddenSigningError) messages in the
   * record domain ("baran.record.v1\0…", which would forge records) and, for the account key,
   * any message outside ACCOUNT_DETACHED_DOMAINS (e.g. name claims).
   */
  signDetached(message: Uint8Array, as: SignerRole): string {
    return signDetachedAs(this.requireAccount(), message, as)
  }

  /** The account's Ethereum wallet (no provider: connect it to one to send transactions). */
  ethWallet(): Wallet {
    const { account } = this.requireAccount()
    if (!this.wallet || this.wallet.address !== account.ethAddress) this.wallet = new Wallet(account.ethPrivateKey)
    return this.wallet
  }

  /**
   * Certifies another device key (base64url) under this account and lists it (device-list seq+1);
   * used by device linking. Re-certifying a listed device renews its cert. Throws
   * InvalidArgumentError, DeviceRevokedError or TooManyDevicesError.
   */
  async certifyDevice(devicePublicKey: string, name: string): Promise<SignedRecord<DeviceCertBody>> {
    const publicKey = decodePublicKey(devicePublicKey)
    checkDeviceName(name)
    return this.mutate((content, ctx) => {
      const { payload, cert } = withDevice(content.account, ctx, { publicKey, name }, this.nextSeq())
      this.log?.info({ deviceId: cert.body.deviceId }, 'device certified')
      return { content: { ...content, account: payload }, result: structuredClone(cert) }
    })
  }

  /**
   * Revokes a device: revocations seq+1 (revokedAt = now), device list seq+1 without it. Throws
   * OwnDeviceError (this node's device), UnknownDeviceError, AlreadyRevokedError,
   * TooManyRevocationsError or InvalidArgumentError.
   */
  async revokeDevice(deviceId: string): Promise<void> {
    if (!isId(deviceId)) throw new InvalidArgumentError('deviceId must be 40 lowercase hex characters')
    await this.mutate((content, ctx) => {
      if (deviceId === deviceIdOf(content)) throw new OwnDeviceError()
      this.log?.info({ deviceId }, 'device revoked')
      return { content: { ...content, account: withRevoked(content.account, ctx, deviceId) }, result: undefined }
    })
  }

  /**
   * Re-signs this node's records that expire within `windowMs` (device list and revocations with
   * seq+1, this device's cert). Returns true if anything was renewed. Call it at start and daily.
   */
  async refresh(opts: { windowMs?: number } = {}): Promise<boolean> {
    const windowMs = opts.windowMs ?? DEFAULT_REFRESH_WINDOW_MS
    return this.mutate((content, ctx) => {
      const deviceId = deviceIdOf(content)
      const account = refreshed(content.account, ctx, { deviceId, certSeq: this.nextSeq() }, windowMs)
      return { content: { ...content, account }, result: account !== content.account, skipWrite: account === content.account }
    })
  }

  /** Adds a contact, or renames it if already there. */
  async addContact(contact: { accountId: string; name?: string }): Promise<Contact> {
    const checked = checkContact(contact)
    const { addedAt, name } = await this.updateAccount((account, w) => withContact(account, checked, w))
    return { accountId: checked.accountId, ...(name !== undefined ? { name } : {}), addedAt }
  }

  /** Removes a contact (kept as a sync tombstone); returns false if it was not there. */
  async removeContact(accountId: string): Promise<boolean> {
    return this.updateAccount((account, w) => withoutContact(account, accountId, w))
  }

  /** Blocks an account (idempotent: an existing block keeps its time). */
  async block(accountId: string): Promise<Block> {
    const own = accountIdOf(this.requireAccount())
    return this.updateAccount((account, w) => withBlock(account, accountId, w, own))
  }

  /** Lifts a block (kept as a sync tombstone); returns false if the account was not blocked. */
  async unblock(accountId: string): Promise<boolean> {
    return this.updateAccount((account, w) => withoutBlock(account, accountId, w))
  }

  /** The accounts this account blocked (a copy, without the sync fields). */
  blocks(): Block[] {
    return (this.requireAccount().account.blocks ?? []).map((b) => ({ accountId: b.accountId, blockedAt: b.blockedAt }))
  }

  /** The account's contacts (a copy, without the sync fields). */
  contacts(): Contact[] {
    return this.requireAccount().account.contacts.map((c) => ({ accountId: c.accountId, ...(c.name !== undefined ? { name: c.name } : {}), addedAt: c.addedAt }))
  }

  /** Names (or renames) a conversation: the logic is conversation-names.ts's, the write the store's. */
  async nameConversation(peer: string, name: string): Promise<ConversationNameEntry> {
    return this.updateAccount((account, w) => withConversationName(account, peer, name, w))
  }

  /** Clears a conversation's name (kept as a sync tombstone); returns false if it had none. */
  async clearConversationName(peer: string): Promise<boolean> {
    return this.updateAccount((account, w) => withoutConversationName(account, peer, w))
  }

  /** The account's conversation names, sorted by peer. */
  conversationNames(): ConversationNameEntry[] {
    return conversationNamesOf(this.requireAccount().account)
  }

  /** One part of the contact or block registers, tombstones included (account-state.ts), after `after`. */
  accountState(kind: AccountStateKind, after?: string, max?: number): { registers: Register[]; more: boolean } {
    const content = this.requireAccount()
    const all = registersOf(content.account, kind, deviceIdOf(content)).filter((r) => after === undefined || r.accountId > after)
    return partOf(all, max ?? ACCOUNT_STATE_PART)
  }

  /** Merges registers from another device of the account (last writer wins per account ID); writes only on a change. */
  async mergeAccountState(kind: AccountStateKind, registers: readonly Register[]): Promise<MergeResult> {
    const content = this.requireAccount()
    const ids = { self: deviceIdOf(content), own: accountIdOf(content) }
    return this.updateAccount((account) => mergeRegisters(account, kind, registers, ids))
  }

  /** The account's free-form config object (a deep copy). */
  config(): JsonObject {
    return structuredClone(this.requireAccount().account.config)
  }

  /** Replaces the config object (JSON with integer numbers only: it is stored as canonical JSON). */
  async setConfig(config: JsonObject): Promise<void> {
    const copy = checkedConfig(config)
    await this.mutate((content) => ({ content: { ...content, account: { ...content.account, config: copy } }, result: undefined }))
  }

  /** Encrypts the account into an archive (default KDF: DEFAULT_SCRYPT, ~0.5 s). */
  async exportArchive(password: string, opts: { kdf?: ScryptParams } = {}): Promise<Uint8Array> {
    checkPassword(password)
    const { account } = this.requireAccount()
    return encodeArchive(account, password, opts.kdf ?? DEFAULT_SCRYPT)
  }

  /**
   * Restores an account from an archive onto this store, which must be empty: same account, a NEW
   * device key and cert, listed with the old devices (device-list seq = archive's + 1). Writes one
   * file at the end, so a failure leaves the directory untouched. Throws AccountExistsError and the
   * archive errors (WrongPasswordError, TamperedArchiveError, …).
   */
  async importArchive(bytes: Uint8Array, password: string, opts: { deviceName?: string } = {}): Promise<AccountInfo> {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('archive must be a Uint8Array')
    if (typeof password !== 'string') throw new InvalidArgumentError('password must be a string')
    return this.importAccount(() => decodeArchive(bytes, password), opts.deviceName)
  }

  /**
   * Seals the account under a fresh PIN for device linking: the offer to put in the DHT (see
   * link-offer.ts; default life 10 minutes). Throws NoAccountError, LinkTooLargeError, InvalidArgumentError.
   */
  async sealLinkOffer(opts: { ttlMs?: number; pin?: string; kdf?: LinkKdf } = {}): Promise<LinkOffer> {
    const { account } = this.requireAccount()
    return sealLinkOffer(account, { now: this.clock(), ...opts })
  }

  /**
   * Opens a link offer with its PIN and imports the account as a NEW device of it, exactly as
   * importArchive does (this store must be empty; one write at the end). Throws AccountExistsError
   * (checked before the KDF runs), WrongPinError, LinkExpiredError, MalformedLinkError, InvalidPinError.
   */
  async importLinkOffer(value: Uint8Array | undefined, pin: string, opts: { deviceName?: string; kdf?: LinkKdf } = {}): Promise<AccountInfo> {
    if (value !== undefined && !(value instanceof Uint8Array)) throw new InvalidArgumentError('value must be a Uint8Array')
    return this.importAccount(() => openLinkOffer(value, pin, { now: this.clock(), ...(opts.kdf ? { kdf: opts.kdf } : {}) }), opts.deviceName)
  }

  /**
   * Merges a device list (and revocations) learnt from the DHT or another device of the account
   * (see sync.ts): adopts newer records, or re-signs the union with seq = max(seen) + 1. Writes only
   * when something changed. Throws NoAccountError, UntrustedDeviceListError, TooManyDevicesError,
   * TooManyRevocationsError.
   */
  async mergeDeviceList(remote: RemoteDeviceList): Promise<Omit<MergeOutcome, 'payload'>> {
    return this.mutate<Omit<MergeOutcome, 'payload'>>((content, ctx) => {
      const deviceId = deviceIdOf(content)
      const merged = mergeDeviceLists(content.account, ctx, remote, deviceId)
      if (!merged.changed) return { content, result: { changed: false, resigned: false, added: [], revoked: [] }, skipWrite: true }
      // Records adopted close to their expiry are renewed at once.
      const account = refreshed(merged.payload, ctx, { deviceId, certSeq: this.nextSeq() }, DEFAULT_REFRESH_WINDOW_MS)
      const resigned = merged.resigned || account.deviceList !== merged.payload.deviceList
      if (merged.added.length || merged.revoked.length) {
        this.log?.info({ added: merged.added.map((d) => d.deviceId), revoked: merged.revoked.map((d) => d.deviceId), resigned }, 'device list merged')
      }
      return { content: { ...content, account }, result: { changed: true, resigned, added: merged.added, revoked: merged.revoked } }
    })
  }

  /** The import both archives and link offers go through: a new device for a decoded account. */
  private importAccount(decode: () => Promise<AccountPayload>, name: string | undefined): Promise<AccountInfo> {
    const deviceName = name === undefined ? normalizeDeviceName(hostname()) : checkDeviceName(name)
    return this.exclusive(async () => {
      await this.ensureLoaded()
      if (this.content) throw new AccountExistsError()
      const archived = await decode()
      const device = generateKeyPair()
      const enc = await newEncryptionKey()
      const ctx: SignContext = { accountSecretKey: fromBase64Url(archived.accountSecretKey), now: this.clock() }
      for (const c of archived.deviceCerts) this.lastSeq = Math.max(this.lastSeq, c.seq)
      const newDevice: NewDevice = { publicKey: device.publicKey, name: deviceName, encKey: enc.publicKey }
      let { payload } = withDevice(archived, ctx, newDevice, this.nextSeq())
      // The archive's other records may be old: renew what would expire soon.
      payload = refreshed(payload, ctx, { deviceId: idFromPublicKey(device.publicKey), certSeq: this.nextSeq() }, DEFAULT_REFRESH_WINDOW_MS)
      await this.commit({ account: payload, deviceSecretKey: device.secretKey, encSeed: enc.seed })
      const info = this.info()
      this.log?.info({ accountId: info.accountId, deviceId: info.deviceId }, 'account imported')
      return info
    })
  }

  /** Forgets the keys held in memory (best effort: overwrites the key bytes). load() to use again. */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.wipe()
      this.loaded = false
    })
  }

  // ---- internals ----

  /** Runs `fn` after every earlier queued operation, so mutations never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return run
  }

  /** Applies a change to the account's lists (contacts.ts); writes only when something changed. */
  private updateAccount<T>(fn: (account: AccountPayload, w: Writer) => AccountChange<T>): Promise<T> {
    return this.mutate((content, ctx) => {
      const next = fn(content.account, { now: ctx.now, device: deviceIdOf(content) })
      return { content: next.changed ? { ...content, account: next.account } : content, result: next.result, skipWrite: !next.changed }
    })
  }

  /** Computes the next content from the current one, writes it, then swaps it in. */
  private mutate<T>(fn: (content: StoreContent, ctx: SignContext) => { content: StoreContent; result: T; skipWrite?: boolean }): Promise<T> {
    return this.exclusive(async () => {
      await this.ensureLoaded()
      const content = this.requireAccount()
      const ctx: SignContext = { accountSecretKey: fromBase64Url(content.account.accountSecretKey), now: this.clock() }
      const next = fn(content, ctx)
      if (!next.skipWrite) await this.commit(next.content)
      return next.result
    })
  }

  private async loadNow(): Promise<void> {
    await removeStaleTemps(this.dir, STORE_FILE)
    const bytes = await readFileIfExists(this.dir, STORE_FILE)
    // Decode before touching the current state, so a failed reload keeps it.
    const decoded = bytes === undefined ? undefined : await decodeStoreFile(bytes, this.passphrase)
    this.wipe()
    this.loaded = true
    if (!decoded) return
    const { content, keys } = decoded
    this.content = content
    this.sealing = keys
    for (const c of content.account.deviceCerts) this.lastSeq = Math.max(this.lastSeq, c.seq)
    if (!content.encSeed) await this.addEncryptionKey(content)
  }

  /** A store written before encryption keys existed: give the device one and re-issue its certificate (version 2). */
  private async addEncryptionKey(content: StoreContent): Promise<void> {
    await this.commit(await withDeviceEncryptionKey(content, this.clock(), this.nextSeq()))
    this.log?.info({ deviceId: deviceIdOf(content) }, 'device encryption key created, certificate re-issued (version 2)')
  }

  /**
   * What sealing and opening envelopes need: this device's certificate, its Ed25519 secret key and its X25519
   * private key (derived from the stored seed). For the envelope module of this package only: never on the bus.
   */
  async envelopeKeys(): Promise<{ deviceId: string; deviceCert: SignedRecord<DeviceCertBody>; deviceSecretKey: Uint8Array; encPrivateKey: Uint8Array }> {
    const content = this.requireAccount()
    const { deviceSecretKey, encSeed } = content
    if (!encSeed) throw new StoreNotLoadedError('The device has no encryption key yet')
    if (!this.encKeys || this.encKeys.seed !== encSeed) this.encKeys = { seed: encSeed, ...(await encryptionKeyPairFromSeed(encSeed)) }
    const deviceId = deviceIdOf(content)
    return { deviceId, deviceCert: ownDeviceCert(content, deviceId), deviceSecretKey, encPrivateKey: this.encKeys.privateKey }
  }

  private async ensureLoaded(): Promise<void> {
    if (!this.loaded) await this.loadNow()
  }

  private async commit(content: StoreContent): Promise<void> {
    let keys = this.sealing
    if (this.passphrase !== undefined && !keys) keys = await newSealingKeys(this.passphrase, this.kdf)
    await writeFileAtomic(this.dir, STORE_FILE, encodeStoreFile(content, keys))
    this.sealing = keys
    this.content = content
    this.loaded = true
  }

  private requireLoaded(): void {
    if (!this.loaded) throw new StoreNotLoadedError()
  }

  private requireAccount(): StoreContent {
    this.requireLoaded()
    if (!this.content) throw new NoAccountError()
    return this.content
  }

  /** A sequence number from the clock that still grows if the clock stalls or steps back. */
  private nextSeq(): number {
    this.lastSeq = Math.max(this.clock(), this.lastSeq + 1)
    return this.lastSeq
  }

  private wipe(): void {
    this.content?.deviceSecretKey.fill(0)
    this.content?.encSeed?.fill(0)
    this.encKeys?.privateKey.fill(0)
    this.encKeys = undefined
    this.sealing?.encKey.fill(0)
    this.content = undefined
    this.sealing = undefined
    this.wallet = undefined
  }
}
