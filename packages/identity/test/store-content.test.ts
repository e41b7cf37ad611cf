import { idFromPublicKey, toBase64Url } from '@baran/trust'
import nacl from 'tweetnacl'
import { describe, expect, it } from 'vitest'
import { newAccountPayload } from '../src/lib/account.ts'
import { accountInfoOf, checkedConfig, checkPassword, decodePublicKey, deviceIdOf, ownDeviceCert } from '../src/lib/store-content.ts'
import type { StoreContent } from '../src/lib/store-file.ts'

/** A real account payload (signed records), as createAccount makes it. */
function content(): StoreContent {
  const account = nacl.sign.keyPair()
  const device = nacl.sign.keyPair()
  const payload = newAccountPayload(
    { accountSecretKey: account.secretKey, now: Date.UTC(2026, 0, 1) },
    { privateKey: `0x${'11'.repeat(32)}`, address: `0x${'22'.repeat(20)}` },
    { publicKey: device.publicKey, name: 'laptop', encKey: new Uint8Array(32).fill(7) },
    1,
  )
  return { account: payload, deviceSecretKey: device.secretKey, encSeed: new Uint8Array(32).fill(9) }
}

describe('store content', () => {
  it('describes the account and this device, with copies of its records', () => {
    const c = content()
    const info = accountInfoOf(c)
    expect(info.deviceId).toBe(idFromPublicKey(c.deviceSecretKey.subarray(32)))
    expect(deviceIdOf(c)).toBe(info.deviceId)
    expect(info.deviceKey).toBe(toBase64Url(c.deviceSecretKey.subarray(32)))
    expect(info.deviceName).toBe('laptop')
    expect(info.devices).toEqual([expect.objectContaining({ deviceId: info.deviceId, name: 'laptop', current: true })])
    expect(info.revoked).toEqual([])
    expect(info.deviceCert).toEqual(ownDeviceCert(c))
    info.deviceCert.body.name = 'changed'
    info.deviceList.body.devices.length = 0
    expect(ownDeviceCert(c).body.name).toBe('laptop')
    expect(c.account.deviceList.body.devices).toHaveLength(1)
  })

  it('says so when the store lists no certificate for its own device', () => {
    const c = content()
    expect(() => ownDeviceCert({ ...c, account: { ...c.account, deviceCerts: [] } })).toThrow(/no certificate for its own device/)
  })

  it('refuses bad input with InvalidArgumentError', () => {
    const name = (f: () => unknown): string | undefined => {
      try {
        f()
      } catch (err) {
        return (err as Error).name
      }
      return undefined
    }
    expect(checkPassword('pw')).toBe('pw')
    for (const bad of ['', undefined, 7]) expect(name(() => checkPassword(bad))).toBe('InvalidArgumentError')
    const key = nacl.sign.keyPair().publicKey
    expect(decodePublicKey(toBase64Url(key))).toEqual(key)
    for (const bad of [toBase64Url(key.subarray(1)), '!!!', 12, undefined]) expect(name(() => decodePublicKey(bad))).toBe('InvalidArgumentError')
    const config = { theme: 'dark', n: 3 }
    const copy = checkedConfig(config)
    expect(copy).toEqual(config)
    expect(copy).not.toBe(config)
    for (const bad of [null, [], 'x', { f: 1.5 }, { u: undefined }]) expect(name(() => checkedConfig(bad))).toBe('InvalidArgumentError')
  })
})
