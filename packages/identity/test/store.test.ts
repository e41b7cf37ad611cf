import { scryptSync } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  canonicalDecode,
  canonicalEncode,
  fromBase64Url,
  generateKeyPair,
  nameClaimMessage,
  toBase64Url,
  verifyChain,
  verifyDetached,
  verifyDeviceList,
  verifyRecord,
} from '@baran/trust'
import { verifyMessage } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { type AccountInfo, ensurePrivateDir, SealedKeyring, type SealedKeyringInit, type LinkKdf, STORE_FILE } from '../src/index.ts'
import { FAST_KDF, hashDir, rejection, TempDirs, thrown } from './helpers.ts'

const DAY = 86_400_000
const temps = new TempDirs()
afterEach(() => temps.cleanup())

const code = (e: Error) => (e as { code?: string }).code

async function newStore(init: Partial<SealedKeyringInit> = {}): Promise<SealedKeyring> {
  const store = new SealedKeyring({ dir: join(await temps.make(), 'identity'), kdf: FAST_KDF, ...init })
  await store.load()
  return store
}

async function withAccount(init: Partial<SealedKeyringInit> = {}): Promise<{ store: SealedKeyring; info: AccountInfo }> {
  const store = await newStore(init)
  const info = await store.createAccount({ deviceName: 'laptop' })
  return { store, info }
}

const reopen = async (store: SealedKeyring, init: Partial<SealedKeyringInit> = {}) => {
  const again = new SealedKeyring({ dir: store.dir, kdf: FAST_KDF, ...init })
  await again.load()
  return again
}

describe('SealedKeyring: account and files', () => {
  it('creates an account, reloads it from disk with the same IDs, files 0600 in a 0700 dir', async () => {
    const store = await newStore()
    expect(store.hasAccount()).toBe(false)
    expect(thrown(() => store.info()).name).toBe('NoAccountError')
    const info = await store.createAccount({ deviceName: 'laptop' })
    expect(info.accountId).toMatch(/^[0-9a-f]{40}$/)
    expect(info.deviceId).toMatch(/^[0-9a-f]{40}$/)
    expect(info.deviceName).toBe('laptop')
    expect(info.ethAddress).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(info.devices).toEqual([{ deviceId: info.deviceId, deviceKey: info.deviceKey, name: 'laptop', current: true }])
    expect(info.revoked).toEqual([])
    expect(info.deviceCert.expiresAt - info.deviceCert.issuedAt).toBe(365 * DAY)

    expect(await readdir(store.dir)).toEqual([STORE_FILE])
    expect((await stat(store.dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(store.dir, STORE_FILE))).mode & 0o777).toBe(0o600)

    const again = await reopen(store)
    expect(again.hasAccount()).toBe(true)
    expect(again.info()).toEqual(info)
    expect(again.ethWallet().address).toBe(info.ethAddress)
  })

  it('names the device after the host by default', async () => {
    const store = await newStore()
    const info = await store.createAccount()
    expect(info.deviceName.length).toBeGreaterThan(0)
    expect(info.deviceName.length).toBeLessThanOrEqual(64)
  })

  it('refuses a second account, an unloaded store and bad arguments with typed errors', async () => {
    const { store } = await withAccount()
    const dup = await rejection(store.createAccount())
    expect([dup.name, code(dup)]).toEqual(['AccountExistsError', 'account_exists'])
    const unloaded = new SealedKeyring({ dir: store.dir })
    expect([thrown(() => unloaded.hasAccount()).name]).toEqual(['StoreNotLoadedError'])
    expect(thrown(() => new SealedKeyring({ dir: '' })).name).toBe('InvalidArgumentError')
    expect((await rejection(store.createAccount({ deviceName: '' }))).name).toBe('InvalidArgumentError')
  })

  it('an async call loads the store by itself', async () => {
    const { store, info } = await withAccount()
    const lazy = new SealedKeyring({ dir: store.dir, kdf: FAST_KDF })
    await lazy.addContact({ accountId: 'cd'.repeat(20) })
    expect(lazy.info().accountId).toBe(info.accountId)
  })

  it('a corrupt file is a CorruptStoreError; a stale temp file is cleaned up on load', async () => {
    const { store } = await withAccount()
    await writeFile(join(store.dir, `${STORE_FILE}.tmp-dead`), 'partial')
    await reopen(store)
    expect(await readdir(store.dir)).toEqual([STORE_FILE])
    await writeFile(join(store.dir, STORE_FILE), '{"v":1}')
    const err = await rejection(reopen(store))
    expect([err.name, code(err)]).toEqual(['CorruptStoreError', 'corrupt_store'])
  })

  it('info() hands out copies: changing them does not change the store', async () => {
    const { store, info } = await withAccount()
    const mine = store.info()
    mine.deviceList.body.devices.length = 0
    mine.deviceCert.body.name = 'evil'
    expect(store.info()).toEqual(info)
  })

  it('close() forgets the keys', async () => {
    const { store } = await withAccount()
    await store.close()
    expect(thrown(() => store.info()).name).toBe('StoreNotLoadedError')
    await store.load()
    expect(store.hasAccount()).toBe(true)
  })
})

describe('SealedKeyring: sealed with a passphrase', () => {
  it('seals the file, reopens with the passphrase, and tells passphrase problems apart', async () => {
    const { store, info } = await withAccount({ passphrase: 'correct horse' })
    const file = await readFile(join(store.dir, STORE_FILE))
    expect(file.subarray(0, 8).toString()).toBe('BARANKEY')
    expect(file.toString('latin1')).not.toContain(info.accountId)

    expect((await reopen(store, { passphrase: 'correct horse' })).info()).toEqual(info)
    const wrong = await rejection(reopen(store, { passphrase: 'wrong horse' }))
    expect([wrong.name, code(wrong)]).toEqual(['WrongPasswordError', 'wrong_password'])
    const none = await rejection(reopen(store))
    expect([none.name, code(none)]).toEqual(['PassphraseRequiredError', 'passphrase_required'])

    const plain = await withAccount()
    const downgrade = await rejection(reopen(plain.store, { passphrase: 'x' }))
    expect([downgrade.name, code(downgrade)]).toEqual(['StoreNotSealedError', 'store_not_sealed'])
  })

  it('reseals changes with the same derived key (no scrypt per write) and a fresh nonce', async () => {
    const { store } = await withAccount({ passphrase: 'pp' })
    const header = async () => {
      const b = await readFile(join(store.dir, STORE_FILE))
      return canonicalDecode(b.subarray(11, 11 + b.readUInt16BE(9))) as { kdf: { salt: string }; nonce: string }
    }
    const before = await header()
    await store.addContact({ accountId: 'ab'.repeat(20) })
    const after = await header()
    expect(after.kdf.salt).toBe(before.kdf.salt)
    expect(after.nonce).not.toBe(before.nonce)
    expect((await reopen(store, { passphrase: 'pp' })).contacts()).toHaveLength(1)
  })
})

describe('SealedKeyring: signing', () => {
  it('issues a peer binding that verifies with verifyChain', async () => {
    const { store, info } = await withAccount()
    const binding = store.issuePeerBinding('12D3KooWTestPeer')
    const chain = verifyChain({
      deviceCert: info.deviceCert,
      peerBinding: binding,
      revocations: info.revocations,
      expect: { accountId: info.accountId, deviceId: info.deviceId, peerId: '12D3KooWTestPeer' },
    })
    expect(chain).toMatchObject({ accountId: info.accountId, deviceId: info.deviceId, peerId: '12D3KooWTestPeer', deviceName: 'laptop' })
    expect(binding.expiresAt - binding.issuedAt).toBe(30 * DAY)
    expect(store.issuePeerBinding('p', { ttlMs: 1000 }).expiresAt - binding.issuedAt).toBeLessThan(30 * DAY)
    expect(thrown(() => store.issuePeerBinding('')).name).toBe('InvalidArgumentError')
    expect(thrown(() => store.issuePeerBinding('p', { ttlMs: -1 })).name).toBe('InvalidArgumentError')
  })

  it('signRecord signs presence with the device key, seq growing even when the clock stands still', async () => {
    const { store, info } = await withAccount({ now: () => 1_800_000_000_000 })
    const body = { accountId: info.accountId, deviceId: info.deviceId, peerId: 'peer', addrs: ['/ip4/127.0.0.1/tcp/1'] }
    const a = store.signRecord({ type: 'presence', body }, 'device')
    const b = store.signRecord({ type: 'presence', body }, 'device')
    expect(b.seq).toBeGreaterThan(a.seq)
    const ok = verifyRecord(b, { type: 'presence', signer: info.deviceKey, now: 1_800_000_000_000, lastSeq: a.seq })
    expect(ok.body).toEqual(body)
    expect(store.signRecord({ type: 'presence', body, seq: 7, ttlMs: 5000 }, 'device')).toMatchObject({ seq: 7, expiresAt: 1_800_000_005_000 })
  })

  it('signRecord refuses what could forge account records or speak for others', async () => {
    const { store, info } = await withAccount()
    const listBody = { accountId: info.accountId, devices: [] }
    const presence = { accountId: info.accountId, deviceId: info.deviceId, peerId: 'p', addrs: [] }
    const forbidden = [
      () => store.signRecord({ type: 'device-list', body: listBody }, 'account'),
      () => store.signRecord({ type: 'revocations', body: listBody }, 'account'),
      () =>
        store.signRecord(
          { type: 'device-cert', body: { accountId: info.accountId, deviceId: info.deviceId, deviceKey: info.deviceKey, name: 'x' } },
          'account',
        ),
      () => store.signRecord({ type: 'presence', body: presence }, 'account'),
      () => store.signRecord({ type: 'presence', body: { ...presence, accountId: 'ab'.repeat(20) } }, 'device'),
      () => store.signRecord({ type: 'presence', body: { ...presence, deviceId: 'ab'.repeat(20) } }, 'device'),
    ]
    for (const f of forbidden) expect([thrown(f).name, code(thrown(f))]).toEqual(['ForbiddenSigningError', 'forbidden_signing'])
    const unknown = thrown(() => store.signRecord({ type: 'nope' as 'presence', body: presence }, 'device'))
    expect(unknown.name).toBe('UnknownRecordTypeError')
    const badBody = thrown(() => store.signRecord({ type: 'presence', body: { ...presence, addrs: 5 as unknown as string[] } }, 'device'))
    expect(badBody.name).toBe('MalformedRecordError')
  })

  it('signDetached: device signs messages, account signs only name claims, nobody signs record bytes', async () => {
    const { store, info } = await withAccount()
    const msg = new TextEncoder().encode('hello')
    expect(verifyDetached(msg, store.signDetached(msg, 'device'), info.deviceKey)).toBe(true)
    const claim = nameClaimMessage({ name: 'alice', owner: info.ethAddress, chainId: 31337, registry: `0x${'11'.repeat(20)}` })
    expect(verifyDetached(claim, store.signDetached(claim, 'account'), info.accountKey)).toBe(true)
    expect(thrown(() => store.signDetached(msg, 'account')).name).toBe('ForbiddenSigningError')
    const recordBytes = new TextEncoder().encode('baran.record.v1\0device-cert\0{}')
    expect(thrown(() => store.signDetached(recordBytes, 'device')).name).toBe('ForbiddenSigningError')
    expect(thrown(() => store.signDetached(recordBytes, 'account')).name).toBe('ForbiddenSigningError')
    expect(thrown(() => store.signDetached('x' as unknown as Uint8Array, 'device')).name).toBe('InvalidArgumentError')
  })

  it('ethWallet signs Ethereum messages for the account address', async () => {
    const { store, info } = await withAccount()
    const sig = await store.ethWallet().signMessage('claim alice')
    expect(verifyMessage('claim alice', sig)).toBe(info.ethAddress)
  })
})

describe('SealedKeyring: devices', () => {
  it('certifyDevice signs a cert that verifies and lists the device (seq+1), persisted', async () => {
    const { store, info } = await withAccount()
    const phone = generateKeyPair()
    const cert = await store.certifyDevice(phone.signer, 'phone')
    const chain = verifyChain({ deviceCert: cert, revocations: store.info().revocations, expect: { accountId: info.accountId } })
    expect(chain).toMatchObject({ deviceId: phone.id, deviceKey: phone.signer, deviceName: 'phone' })
    const list = verifyDeviceList(store.info().deviceList, { accountId: info.accountId, lastSeq: info.deviceList.seq })
    expect(list.seq).toBe(info.deviceList.seq + 1)
    expect(list.devices.map((d) => d.deviceId).sort()).toEqual([info.deviceId, phone.id].sort())
    expect((await reopen(store)).info().devices.find((d) => d.deviceId === phone.id)).toEqual({
      deviceId: phone.id,
      deviceKey: phone.signer,
      name: 'phone',
      current: false,
    })
    expect((await rejection(store.certifyDevice('not-a-key', 'x'))).name).toBe('InvalidArgumentError')
    expect((await rejection(store.certifyDevice(toBase64Url(new Uint8Array(31)), 'x'))).name).toBe('InvalidArgumentError')
    expect((await rejection(store.certifyDevice(phone.signer, 'x'.repeat(65)))).name).toBe('InvalidArgumentError')
  })

  it('revokeDevice: verifyChain with the new revocations throws RevokedDeviceError for that device', async () => {
    let now = Date.now()
    const { store, info } = await withAccount({ now: () => now })
    const phone = generateKeyPair()
    const cert = await store.certifyDevice(phone.signer, 'phone')
    const before = store.info()
    now += 10
    await store.revokeDevice(phone.id)
    const after = store.info()
    expect(after.revocations.seq).toBe(before.revocations.seq + 1)
    expect(after.deviceList.seq).toBe(before.deviceList.seq + 1)
    expect(after.revocations.body.devices).toEqual([{ deviceId: phone.id, revokedAt: now }])
    expect(after.revoked).toEqual([phone.id])
    expect(after.devices.map((d) => d.deviceId)).toEqual([info.deviceId])
    const err = thrown(() => verifyChain({ deviceCert: cert, revocations: after.revocations, now }))
    expect([err.name, code(err)]).toEqual(['RevokedDeviceError', 'revoked'])
    // This node's own chain still verifies against the new revocations.
    verifyChain({ deviceCert: after.deviceCert, revocations: after.revocations, now })
    expect((await reopen(store)).info().revoked).toEqual([phone.id])
  })

  it('revokeDevice refuses own, unknown, already revoked; a revoked device cannot be certified again', async () => {
    const { store, info } = await withAccount()
    const own = await rejection(store.revokeDevice(info.deviceId))
    expect([own.name, code(own)]).toEqual(['OwnDeviceError', 'own_device'])
    const unknown = await rejection(store.revokeDevice('ab'.repeat(20)))
    expect([unknown.name, code(unknown)]).toEqual(['UnknownDeviceError', 'unknown_device'])
    expect((await rejection(store.revokeDevice('nope'))).name).toBe('InvalidArgumentError')
    const phone = generateKeyPair()
    await store.certifyDevice(phone.signer, 'phone')
    await store.revokeDevice(phone.id)
    expect((await rejection(store.revokeDevice(phone.id))).name).toBe('AlreadyRevokedError')
    expect((await rejection(store.certifyDevice(phone.signer, 'phone'))).name).toBe('DeviceRevokedError')
    // A failed mutation leaves the state as it was.
    expect(store.info().devices).toHaveLength(1)
  })

  it('serialises concurrent mutations: every change lands, seq grows by one each', async () => {
    const { store, info } = await withAccount()
    const keys = Array.from({ length: 6 }, () => generateKeyPair())
    await Promise.all([
      ...keys.map((k, i) => store.certifyDevice(k.signer, `d${i}`)),
      store.addContact({ accountId: 'ef'.repeat(20) }),
    ])
    const now = store.info()
    expect(now.deviceList.seq).toBe(info.deviceList.seq + keys.length)
    expect(now.devices).toHaveLength(keys.length + 1)
    expect((await reopen(store)).info()).toEqual(now)
  })

  it('refresh renews records near expiry (seq+1) and does nothing when they are fresh', async () => {
    let now = Date.UTC(2026, 0, 1)
    const { store, info } = await withAccount({ now: () => now })
    expect(await store.refresh()).toBe(false)
    const bytes = await readFile(join(store.dir, STORE_FILE))
    now += 340 * DAY
    expect(await store.refresh()).toBe(true)
    const next = store.info()
    expect(next.deviceList.seq).toBe(info.deviceList.seq + 1)
    expect(next.revocations.seq).toBe(info.revocations.seq + 1)
    expect(next.deviceCert.issuedAt).toBe(now)
    verifyChain({ deviceCert: next.deviceCert, revocations: next.revocations, now: now + 100 * DAY })
    expect(Buffer.compare(bytes, await readFile(join(store.dir, STORE_FILE)))).not.toBe(0)
  })
})

describe('SealedKeyring: contacts and config', () => {
  it('adds, renames, removes contacts and persists them', async () => {
    let now = 1_700_000_000_000
    const { store } = await withAccount({ now: () => now })
    const id = 'ab'.repeat(20)
    expect(await store.addContact({ accountId: id, name: 'Ann' })).toEqual({ accountId: id, name: 'Ann', addedAt: now })
    now += 1000
    await store.addContact({ accountId: id, name: 'Annie' })
    expect(store.contacts()).toEqual([{ accountId: id, name: 'Annie', addedAt: now - 1000 }])
    expect((await reopen(store)).contacts()).toEqual(store.contacts())
    expect(await store.removeContact(id)).toBe(true)
    expect(await store.removeContact(id)).toBe(false)
    expect(store.contacts()).toEqual([])
    expect((await rejection(store.addContact({ accountId: 'ABC' }))).name).toBe('InvalidArgumentError')
    expect((await rejection(store.addContact({ accountId: id, name: '' }))).name).toBe('InvalidArgumentError')
  })

  it('stores a JSON config object; refuses floats and non-objects', async () => {
    const { store } = await withAccount()
    await store.setConfig({ theme: 'dark', volume: 7, nested: { list: [1, 'a', null, true] } })
    expect((await reopen(store)).config()).toEqual({ theme: 'dark', volume: 7, nested: { list: [1, 'a', null, true] } })
    const c = store.config()
    ;(c as { theme: string }).theme = 'light'
    expect(store.config().theme).toBe('dark') // a copy
    for (const bad of [{ ratio: 0.5 }, { f: () => 1 }, [1], null]) {
      expect((await rejection(store.setConfig(bad as never))).name).toBe('InvalidArgumentError')
    }
  })
})

describe('SealedKeyring: archive export and import', () => {
  it('export on A, import on fresh B: same account, new device, both listed, B\'s cert verifies', async () => {
    const a = await withAccount()
    await a.store.addContact({ accountId: 'ab'.repeat(20), name: 'Ann' })
    await a.store.setConfig({ lang: 'fa' })
    const archive = await a.store.exportArchive('archive pw', { kdf: FAST_KDF })
    const aInfo = a.store.info()

    const b = await newStore()
    const bInfo = await b.importArchive(archive, 'archive pw', { deviceName: 'desktop' })
    expect(bInfo.accountId).toBe(aInfo.accountId)
    expect(bInfo.accountKey).toBe(aInfo.accountKey)
    expect(bInfo.ethAddress).toBe(aInfo.ethAddress)
    expect(bInfo.deviceId).not.toBe(aInfo.deviceId)
    expect(bInfo.deviceName).toBe('desktop')
    expect(bInfo.deviceList.seq).toBe(aInfo.deviceList.seq + 1)
    expect(bInfo.devices.map((d) => [d.deviceId, d.current]).sort()).toEqual(
      [
        [aInfo.deviceId, false],
        [bInfo.deviceId, true],
      ].sort(),
    )
    const chain = verifyChain({ deviceCert: bInfo.deviceCert, revocations: bInfo.revocations, expect: { accountId: aInfo.accountId } })
    expect(chain.deviceId).toBe(bInfo.deviceId)
    verifyChain({ deviceCert: a.store.info().deviceCert, revocations: bInfo.revocations })
    verifyDeviceList(bInfo.deviceList, { accountId: aInfo.accountId, lastSeq: aInfo.deviceList.seq })
    expect(b.contacts()).toEqual(a.store.contacts())
    expect(b.config()).toEqual({ lang: 'fa' })
    expect((await reopen(b)).info()).toEqual(bInfo)
    // B, now holding the account, can revoke A's device.
    await b.revokeDevice(aInfo.deviceId)
    expect(thrown(() => verifyChain({ deviceCert: aInfo.deviceCert, revocations: b.info().revocations })).name).toBe('RevokedDeviceError')
  })

  it('exports with the default KDF (N=2^18) and imports into a sealed store', async () => {
    const a = await withAccount()
    const archive = await a.store.exportArchive('pw')
    expect(new TextDecoder().decode(archive.subarray(0, 8))).toBe('BARANARC')
    const b = await newStore({ passphrase: 'store pp' })
    const info = await b.importArchive(archive, 'pw')
    expect(info.accountId).toBe(a.info.accountId)
    expect((await readFile(join(b.dir, STORE_FILE))).subarray(0, 8).toString()).toBe('BARANKEY')
    expect((await reopen(b, { passphrase: 'store pp' })).info().accountId).toBe(a.info.accountId)
  })

  const tamper = (archive: Uint8Array, fn: (t: Uint8Array) => void) => {
    const t = archive.slice()
    fn(t)
    return t
  }
  const withNonceFlipped = (archive: Uint8Array) => {
    const len = (archive[9]! << 8) | archive[10]!
    const header = canonicalDecode(archive.subarray(11, 11 + len)) as { nonce: string }
    const nonce = fromBase64Url(header.nonce)
    nonce[0]! ^= 1
    const h = canonicalEncode({ ...header, nonce: toBase64Url(nonce) })
    return new Uint8Array([...archive.subarray(0, 9), h.length >> 8, h.length & 255, ...h, ...archive.subarray(11 + len)])
  }

  it.each([
    { label: 'wrong password', mutate: (x: Uint8Array) => x, pw: 'wrong', name: 'WrongPasswordError' },
    { label: 'truncated', mutate: (x: Uint8Array) => x.subarray(0, x.length - 1), pw: 'pw', name: 'TruncatedArchiveError' },
    { label: 'tampered ciphertext', mutate: (x: Uint8Array) => tamper(x, (t) => { t[t.length - 1]! ^= 1 }), pw: 'pw', name: 'TamperedArchiveError' },
    { label: 'tampered header', mutate: withNonceFlipped, pw: 'pw', name: 'TamperedArchiveError' },
    { label: 'bad magic', mutate: (x: Uint8Array) => tamper(x, (t) => { t[1] = 0 }), pw: 'pw', name: 'NotAnArchiveError' },
    { label: 'future version', mutate: (x: Uint8Array) => tamper(x, (t) => { t[8] = 9 }), pw: 'pw', name: 'UnsupportedArchiveVersionError' },
  ])('a failed import ($label) throws $name and leaves B\'s dir byte-identical', async ({ mutate, pw, name }) => {
    const a = await withAccount()
    const archive = mutate(await a.store.exportArchive('pw', { kdf: FAST_KDF }))
    const b = await newStore()
    await ensurePrivateDir(b.dir)
    await writeFile(join(b.dir, 'other-file'), 'unrelated') // the dir is not empty: compare real bytes
    const before = await hashDir(b.dir)
    const err = await rejection(b.importArchive(archive, pw))
    expect(err.name).toBe(name)
    expect(await hashDir(b.dir)).toBe(before)
    expect(b.hasAccount()).toBe(false)
  })

  it('refuses to import over an existing account and leaves its files alone', async () => {
    const a = await withAccount()
    const archive = await a.store.exportArchive('pw', { kdf: FAST_KDF })
    const b = await withAccount()
    const before = await hashDir(b.store.dir)
    const err = await rejection(b.store.importArchive(archive, 'pw'))
    expect([err.name, code(err)]).toEqual(['AccountExistsError', 'account_exists'])
    expect(await hashDir(b.store.dir)).toBe(before)
    expect(b.store.info().accountId).toBe(b.info.accountId)
  })

  it('a failed import into a directory that does not exist yet does not create it', async () => {
    const a = await withAccount()
    const archive = await a.store.exportArchive('pw', { kdf: FAST_KDF })
    const dir = join(await temps.make(), 'never')
    const b = new SealedKeyring({ dir })
    expect((await rejection(b.importArchive(archive, 'nope'))).name).toBe('WrongPasswordError')
    expect(await stat(dir).catch(() => 'missing')).toBe('missing')
  })

  it('export needs an account and a non-empty password', async () => {
    const empty = await newStore()
    expect((await rejection(empty.exportArchive('pw'))).name).toBe('NoAccountError')
    const { store } = await withAccount()
    expect((await rejection(store.exportArchive(''))).name).toBe('InvalidArgumentError')
  })
})

describe('SealedKeyring: device linking and device-list sync', () => {
  let kdfCalls = 0
  const kdf: LinkKdf = async (pin, salt) => {
    kdfCalls++
    return new Uint8Array(scryptSync(pin, salt, 64, { N: 16, r: 1, p: 1 }))
  }
  const listOf = (s: SealedKeyring) => ({ deviceList: s.info().deviceList, revocations: s.info().revocations })

  it('seals a link offer on A that empty B imports as a new device; wrong PIN and expiry leave B untouched', async () => {
    const a = await withAccount()
    const offer = await a.store.sealLinkOffer({ kdf, ttlMs: 60_000 })
    const b = await newStore()
    await ensurePrivateDir(b.dir)
    const before = await hashDir(b.dir)
    const wrongPin = offer.pin === 'ABCD-EFGH' ? 'ABCD-EFGJ' : 'ABCD-EFGH'
    expect(await rejection(b.importLinkOffer(offer.value, wrongPin, { kdf }))).toMatchObject({ name: 'WrongPinError', code: 'wrong_pin' })
    expect(await rejection(b.importLinkOffer(undefined, offer.pin, { kdf }))).toMatchObject({ name: 'LinkExpiredError' })
    const late = new SealedKeyring({ dir: b.dir, kdf: FAST_KDF, now: () => offer.expiresAt + 120_000 })
    await late.load()
    expect(await rejection(late.importLinkOffer(offer.value, offer.pin, { kdf }))).toMatchObject({ name: 'LinkExpiredError' })
    expect(await hashDir(b.dir)).toBe(before)
    expect(b.hasAccount()).toBe(false)

    const info = await b.importLinkOffer(offer.value, offer.pin.toLowerCase(), { kdf, deviceName: 'phone' })
    expect(info).toMatchObject({ accountId: a.info.accountId, deviceName: 'phone' })
    expect(info.deviceId).not.toBe(a.info.deviceId)
    expect(info.devices.map((d) => d.deviceId).sort()).toEqual([a.info.deviceId, info.deviceId].sort())
    expect(verifyChain({ deviceCert: info.deviceCert, expect: { accountId: a.info.accountId } }).deviceId).toBe(info.deviceId)
    expect((await reopen(b)).info()).toEqual(info)
  })

  it('refuses a link offer on a store that holds an account, before running the KDF', async () => {
    const a = await withAccount()
    const offer = await a.store.sealLinkOffer({ kdf })
    const b = await withAccount()
    kdfCalls = 0
    expect(await rejection(b.store.importLinkOffer(offer.value, offer.pin, { kdf }))).toMatchObject({ name: 'AccountExistsError' })
    expect(kdfCalls).toBe(0)
    expect(await rejection((await newStore()).sealLinkOffer({ kdf }))).toMatchObject({ name: 'NoAccountError' })
  })

  it('merges the other device\'s list (persisted), writes nothing when there is nothing new, and adopts its own revocation', async () => {
    const a = await withAccount()
    const b = await newStore()
    await b.importArchive(await a.store.exportArchive('pw', { kdf: FAST_KDF }), 'pw', { deviceName: 'phone' })
    const bId = b.info().deviceId

    const added = await a.store.mergeDeviceList(listOf(b))
    expect(added).toMatchObject({ changed: true, resigned: false, revoked: [] })
    expect(added.added.map((d) => d.deviceId)).toEqual([bId])
    expect((await reopen(a.store)).info().devices.map((d) => d.deviceId).sort()).toEqual([a.info.deviceId, bId].sort())

    const before = await hashDir(a.store.dir)
    expect(await a.store.mergeDeviceList(listOf(b))).toMatchObject({ changed: false })
    expect(await hashDir(a.store.dir)).toBe(before)

    await b.revokeDevice(a.info.deviceId)
    const revoked = await a.store.mergeDeviceList(listOf(b))
    expect(revoked.revoked.map((d) => d.deviceId)).toEqual([a.info.deviceId])
    const now = a.store.info()
    expect(now.revoked).toEqual([a.info.deviceId])
    expect(now.deviceId).toBe(a.info.deviceId) // still knows who it is
    expect(now.deviceList).toEqual(b.info().deviceList)
    expect(thrown(() => verifyChain({ deviceCert: now.deviceCert, revocations: now.revocations })).name).toBe('RevokedDeviceError')
    expect((await rejection(a.store.mergeDeviceList({ deviceList: 'junk' }))).name).toBe('UntrustedDeviceListError')
  })

  it('resolves a seq collision: both sides end with the same list and revocations, above both seqs', async () => {
    const a = await withAccount()
    const b = await newStore()
    await b.importArchive(await a.store.exportArchive('pw', { kdf: FAST_KDF }), 'pw')
    await a.store.mergeDeviceList(listOf(b))
    const c = await newStore()
    await c.importArchive(await a.store.exportArchive('pw', { kdf: FAST_KDF }), 'pw')
    await a.store.mergeDeviceList(listOf(c))
    await b.mergeDeviceList(listOf(a.store))
    const cId = c.info().deviceId
    // concurrently: A revokes C, B certifies a new key: same seq, different lists
    await a.store.revokeDevice(cId)
    await b.certifyDevice(generateKeyPair().signer, 'tablet')
    const seqs = [a.store.info().deviceList.seq, b.info().deviceList.seq]
    expect(seqs[0]).toBe(seqs[1])

    expect(await a.store.mergeDeviceList(listOf(b))).toMatchObject({ changed: true, resigned: true })
    expect(await b.mergeDeviceList(listOf(a.store))).toMatchObject({ changed: true, resigned: false })
    const [x, y] = [a.store.info(), b.info()]
    expect(x.deviceList).toEqual(y.deviceList)
    expect(x.revocations).toEqual(y.revocations)
    expect(x.deviceList.seq).toBe((seqs[0] as number) + 1)
    expect(x.revoked).toEqual([cId])
    expect(x.devices).toHaveLength(3)
  })
})
