import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { KeptRecipients } from '../src/lib/kept-recipients.ts'
import { BOB, BOB_LAPTOP, BOB_PHONE, jetstream } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const CERT = { type: 'device-cert', body: { deviceId: BOB_PHONE }, sig: 'x' }

describe('kept recipients (real JetStream KV)', () => {
  it('keeps the last device list and certificates across a reopen; answers offline devices; forgets a revoked one', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('recipients')
    const kept = new KeptRecipients(kv)
    expect(await kept.devicesOf(BOB)).toBeUndefined()
    expect(await kept.certOf(BOB_PHONE)).toBeUndefined()
    await kept.keepDevices(BOB, { devices: [{ deviceId: BOB_PHONE, online: true, peerId: '12D3KooW', addrs: ['/ip4/10.0.0.2/tcp/1'] }, { deviceId: BOB_LAPTOP, online: false, addrs: [] }], revoked: [] })
    await kept.keepCert(BOB_PHONE, BOB, CERT)
    await kept.keepCert(BOB_LAPTOP, BOB, { ...CERT, body: { deviceId: BOB_LAPTOP } })

    const again = new KeptRecipients(kv)
    // presence is not kept: every device reads as offline, no address
    expect(await again.devicesOf(BOB)).toEqual({
      devices: [
        { deviceId: BOB_PHONE, online: false, addrs: [] },
        { deviceId: BOB_LAPTOP, online: false, addrs: [] },
      ],
      revoked: [],
    })
    expect(await again.certOf(BOB_PHONE)).toEqual({ account: BOB, cert: CERT })

    // a later answer names the laptop revoked: its certificate goes
    await again.keepDevices(BOB, { devices: [{ deviceId: BOB_PHONE, online: false, addrs: [] }], revoked: [BOB_LAPTOP] })
    expect(await again.certOf(BOB_LAPTOP)).toBeUndefined()
    expect(await again.certOf(BOB_PHONE)).toEqual({ account: BOB, cert: CERT })
    expect((await again.devicesOf(BOB))?.revoked).toEqual([BOB_LAPTOP])
  })

  it('an unchanged answer costs no write; garbage on disk reads as nothing kept; IDs that are not IDs are not written', async () => {
    const js = await jetstream(cleanup)
    const kv = await js.bucket('recipients')
    const kept = new KeptRecipients(kv)
    await kept.keepCert(BOB_PHONE, BOB, CERT)
    const rev = (await kv.get(`c.${BOB_PHONE}`))!.revision
    await kept.keepCert(BOB_PHONE, BOB, CERT)
    expect((await kv.get(`c.${BOB_PHONE}`))!.revision).toBe(rev)

    for (const garbage of ['{not json', '[]', '{"account":"nope","cert":{}}', `{"account":"${BOB}"}`, '']) {
      await kv.put(`c.${BOB_PHONE}`, new TextEncoder().encode(garbage))
      await kv.put(`a.${BOB}`, new TextEncoder().encode(garbage))
      const fresh = new KeptRecipients(kv)
      expect(await fresh.certOf(BOB_PHONE)).toBeUndefined()
      expect(await fresh.devicesOf(BOB)).toBeUndefined()
    }
    await kv.put(`a.${BOB}`, new TextEncoder().encode(JSON.stringify({ devices: [BOB_PHONE, 'x', 7], revoked: ['../etc'] })))
    expect(await new KeptRecipients(kv).devicesOf(BOB)).toEqual({ devices: [{ deviceId: BOB_PHONE, online: false, addrs: [] }], revoked: [] })

    await kept.keepCert('not-a-device', BOB, CERT)
    await kept.keepDevices('not-an-account', { devices: [], revoked: [] })
    expect(await kv.keys()).not.toContain('c.not-a-device')
    expect(await kv.keys()).not.toContain('a.not-an-account')
  })
})
