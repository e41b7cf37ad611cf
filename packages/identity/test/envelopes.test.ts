import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { keyPairFromSeed, verifyChain } from '@baran/trust'
import nacl from 'tweetnacl'
import { afterEach, describe, expect, it } from 'vitest'
import { newAccountPayload } from '../src/lib/account.ts'
import { EnvelopeService } from '../src/lib/envelopes.ts'
import { writeFileAtomic } from '../src/lib/fs.ts'
import { REPLAY_FILE, ReplayWindow } from '../src/lib/replay-window.ts'
import { SealedKeyring } from '../src/lib/store.ts'
import { decodeStoreFile, encodeStoreFile } from '../src/lib/store-file.ts'
import { FAST_KDF, rejection, TempDirs } from './helpers.ts'

const dirs = new TempDirs()
afterEach(() => dirs.cleanup())

/** A store file as written before encryption keys: version 1 certificate, no encSeed (encodeStoreFile of today). */
async function oldStore(dir: string, passphrase?: string) {
  const account = keyPairFromSeed(new Uint8Array(32).fill(1))
  const device = nacl.sign.keyPair()
  const ctx = { accountSecretKey: account.secretKey, now: Date.now() }
  const payload = newAccountPayload(ctx, { privateKey: `0x${'11'.repeat(32)}`, address: '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A' }, { publicKey: device.publicKey, name: 'old' }, 1)
  expect(payload.deviceCerts[0]!.v).toBe(1)
  const keys = passphrase ? await (await import('../src/lib/container.ts')).newSealingKeys(passphrase, FAST_KDF) : undefined
  await writeFileAtomic(dir, 'identity.store', encodeStoreFile({ account: payload, deviceSecretKey: device.secretKey }, keys))
  return payload.deviceCerts[0]!
}

describe('device encryption keys in the store', () => {
  it('a new account has a version 2 certificate whose encKey the device can open envelopes with', async () => {
    const store = new SealedKeyring({ dir: await dirs.make() })
    await store.load()
    const info = await store.createAccount({ deviceName: 'laptop' })
    expect(info.deviceCert.v).toBe(2)
    expect(verifyChain({ deviceCert: info.deviceCert }).encKey).toBeDefined()
  })

  for (const sealed of [false, true]) {
    it(`an old${sealed ? ' sealed' : ''} store gets an encryption key and its certificate re-issued as version 2 on load`, async () => {
      const dir = await dirs.make()
      const passphrase = sealed ? 'pass' : undefined
      const oldCert = await oldStore(dir, passphrase)
      const store = new SealedKeyring({ dir, kdf: FAST_KDF, ...(passphrase ? { passphrase } : {}) })
      await store.load()
      const info = store.info()
      expect(info.deviceCert.v).toBe(2)
      expect(info.deviceCert.seq).toBeGreaterThan(oldCert.seq)
      expect(info.deviceList.seq).toBe(1)
      // The old certificate still verifies (peers may hold it until it expires).
      expect(verifyChain({ deviceCert: oldCert }).deviceId).toBe(info.deviceId)
      const chain = verifyChain({ deviceCert: info.deviceCert })
      // On disk: the seed, whose public key is the certificate's.
      const { content } = await decodeStoreFile(new Uint8Array(await readFile(join(dir, 'identity.store'))), passphrase)
      expect(content.encSeed).toHaveLength(32)
      const { encryptionKeyPairFromSeed, toBase64Url } = await import('@baran/trust')
      expect(toBase64Url((await encryptionKeyPairFromSeed(content.encSeed!)).publicKey)).toBe(chain.encKey)
      // Loaded again: the same key, no new certificate.
      const again = new SealedKeyring({ dir, kdf: FAST_KDF, ...(passphrase ? { passphrase } : {}) })
      await again.load()
      expect(again.info().deviceCert).toEqual(info.deviceCert)
      // And it opens what is sealed to it.
      const other = new SealedKeyring({ dir: await dirs.make() })
      await other.load()
      await other.createAccount({ deviceName: 'sender' })
      const sender = new EnvelopeService({ store: other, replay: new ReplayWindow({ dir: await dirs.make() }) })
      const me = new EnvelopeService({ store: again, replay: new ReplayWindow({ dir }) })
      const { envelope } = await sender.seal('m1', new TextEncoder().encode('to the migrated store'), [info.deviceCert])
      expect(new TextDecoder().decode((await me.open(envelope)).payload)).toBe('to the migrated store')
    })
  }

  it('sealing to a version 1 certificate is refused with NoEncryptionKeyError', async () => {
    const dir = await dirs.make()
    const oldCert = await oldStore(dir)
    const store = new SealedKeyring({ dir: await dirs.make() })
    await store.load()
    await store.createAccount({ deviceName: 'sender' })
    const service = new EnvelopeService({ store, replay: new ReplayWindow({ dir: await dirs.make() }) })
    expect((await rejection(service.seal('m', new Uint8Array(1), [oldCert]))).name).toBe('NoEncryptionKeyError')
  })
})

describe('ReplayWindow', () => {
  const device = 'a'.repeat(40)

  it('remembers opened IDs across instances (the file), per sender device', async () => {
    const dir = await dirs.make()
    const now = Date.now()
    const w = new ReplayWindow({ dir })
    await w.load()
    w.reserve(device, 'm1', now)
    await w.commit(device, 'm1', now)
    expect(() => w.reserve(device, 'm1', now)).toThrow(expect.objectContaining({ name: 'ReplayedEnvelopeError', reason: 'replayed' }))
    const again = new ReplayWindow({ dir })
    await again.load()
    expect(() => again.reserve(device, 'm1', now)).toThrow(/opened before/)
    expect(() => again.reserve('b'.repeat(40), 'm1', now)).not.toThrow()
    // A released reservation (the envelope did not open) may be tried again.
    again.release('b'.repeat(40), 'm1')
    expect(() => again.reserve('b'.repeat(40), 'm1', now)).not.toThrow()
  })

  it('stays within its capacity; what it forgot is refused as older than the window, also after a reload', async () => {
    const dir = await dirs.make()
    const now = Date.now()
    const w = new ReplayWindow({ dir, capacity: 100 })
    await w.load()
    for (let i = 0; i < 1000; i++) {
      w.reserve(device, `m${i}`, now - 10_000 + i)
      await w.commit(device, `m${i}`, now - 10_000 + i)
      expect(w.size).toBeLessThanOrEqual(101)
    }
    expect(() => w.reserve(device, 'm5', now - 10_000 + 5)).toThrow(/older than the replay window/)
    const lines = (await readFile(join(dir, REPLAY_FILE), 'utf8')).trim().split('\n')
    expect(lines.length).toBeLessThanOrEqual(102)
    const again = new ReplayWindow({ dir, capacity: 100 })
    await again.load()
    expect(again.size).toBeLessThanOrEqual(101)
    expect(() => again.reserve(device, 'm5', now - 10_000 + 5)).toThrow(/older than the replay window/)
    expect(() => again.reserve(device, 'm999', now - 10_000 + 999)).toThrow(/opened before/)
  })

  it('refuses envelopes older than its maximum age, and skips a torn last line', async () => {
    const dir = await dirs.make()
    await writeFileAtomic(dir, REPLAY_FILE, new TextEncoder().encode(`${Date.now()} ${device} ok\n${Date.now()} ${device.slice(0, 10)}`))
    const w = new ReplayWindow({ dir, maxAgeMs: 60_000 })
    await w.load()
    expect(w.size).toBe(1)
    expect(() => w.reserve(device, 'old', Date.now() - 120_000)).toThrow(/older than the replay window/)
  })
})

