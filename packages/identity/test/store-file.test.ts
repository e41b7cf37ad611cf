import { canonicalEncode, generateKeyPair, toBase64Url } from '@baran/trust'
import { Wallet } from 'ethers'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  decodeStoreFile,
  encodeStoreFile,
  isSealedStoreFile,
  newAccountPayload,
  newSealingKeys,
  type SealingKeys,
  type StoreContent,
} from '../src/index.ts'
import { FAST_KDF, rejection } from './helpers.ts'

function makeContent(): StoreContent {
  const account = generateKeyPair()
  const device = generateKeyPair()
  const eth = Wallet.createRandom()
  const now = Date.now()
  const payload = newAccountPayload(
    { accountSecretKey: account.secretKey, now },
    { privateKey: eth.privateKey, address: eth.address },
    { publicKey: device.publicKey, name: 'box' },
    now,
  )
  return { account: payload, deviceSecretKey: device.secretKey }
}

describe('store file', () => {
  let content: StoreContent
  let keys: SealingKeys

  beforeAll(async () => {
    content = makeContent()
    keys = await newSealingKeys('open sesame', FAST_KDF)
  })

  it('round-trips plain and sealed', async () => {
    const plain = encodeStoreFile(content)
    expect(isSealedStoreFile(plain)).toBe(false)
    expect((await decodeStoreFile(plain)).content).toEqual(content)
    const sealed = encodeStoreFile(content, keys)
    expect(isSealedStoreFile(sealed)).toBe(true)
    const out = await decodeStoreFile(sealed, 'open sesame')
    expect(out.content).toEqual(content)
    expect(out.keys?.kdf).toEqual(keys.kdf)
  })

  it('distinguishes passphrase problems', async () => {
    const sealed = encodeStoreFile(content, keys)
    expect((await rejection(decodeStoreFile(sealed))).name).toBe('PassphraseRequiredError')
    expect((await rejection(decodeStoreFile(sealed, 'open sesamE'))).name).toBe('WrongPasswordError')
    expect((await rejection(decodeStoreFile(encodeStoreFile(content), 'open sesame'))).name).toBe('StoreNotSealedError')
  })

  it('reports every defect as CorruptStoreError', async () => {
    const sealed = encodeStoreFile(content, keys)
    const tampered = sealed.slice()
    tampered[tampered.length - 3]! ^= 1
    const other = makeContent()
    const bad = [
      new TextEncoder().encode('not json'),
      new TextEncoder().encode('{"v":2}'),
      canonicalEncode({ v: 1, account: content.account, device: { secretKey: toBase64Url(other.deviceSecretKey) } }),
      canonicalEncode({ v: 1, account: content.account, device: {} }),
      canonicalEncode({ v: 1, account: content.account, device: { secretKey: toBase64Url(content.deviceSecretKey) }, x: 1 }),
    ]
    for (const bytes of bad) {
      const err = await rejection(decodeStoreFile(bytes))
      expect([err.name, (err as { code?: string }).code]).toEqual(['CorruptStoreError', 'corrupt_store'])
    }
    const err = await rejection(decodeStoreFile(tampered, 'open sesame'))
    expect(err.name).toBe('CorruptStoreError')
    expect((err.cause as Error).name).toBe('TamperedArchiveError')
  })
})
