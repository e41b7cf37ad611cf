import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Bus, healthContractOf, identityCreate, identityExportArchive, identityImportArchive, identityOpen, identityPeerBinding, identityRevokeDevice, identitySeal, identitySignMailboxFetch } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { keyPairFromSeed, mailboxesOf, toBase64Url, verifyChain } from '@baran/trust'
import nacl from 'tweetnacl'
import { afterEach, describe, expect, it } from 'vitest'
import { identityActor } from '../src/index.ts'
import { newAccountPayload } from '../src/lib/account.ts'
import { decodeArchive } from '../src/lib/archive.ts'
import { writeFileAtomic } from '../src/lib/fs.ts'
import { decodeStoreFile, encodeStoreFile } from '../src/lib/store-file.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const kdf = { N: 1024, r: 8, p: 1 }

/** One nats-server, one identity actor per node name on it (each with its own data dir and account). */
async function network(names: string[]) {
  const nats = await setupNats({ cleanup, node: names[0] })
  const nodes = []
  for (const name of names) {
    const bus = name === names[0] ? nats.bus : await Bus.connect({ servers: nats.url, node: name })
    if (bus !== nats.bus) cleanup.add(`close bus ${name}`, () => bus.close())
    const dataDir = await tempDir(cleanup)
    const start = () => runInline(identityActor, { cleanup, node: name, url: nats.url, dataDir, config: { kdf, deviceName: `${name}-laptop` } })
    nodes.push({ name, bus, dataDir, rt: await start(), start })
  }
  return { nats, nodes }
}

const b64 = (s: string) => Buffer.from(s).toString('base64')
const text = (b: string) => Buffer.from(b, 'base64').toString()
const certOf = async (bus: Bus) => (await bus.request(identityPeerBinding, { peerId: 'p' })).deviceCert

describe('identity.seal / identity.open over the bus', () => {
  it('seals to three devices that each open it; a fourth is refused not_for_this_device; a replay is refused, also after a restart', async () => {
    const { nodes } = await network(['s', 'r1', 'r2', 'r3', 'r4'])
    const accounts = []
    for (const n of nodes) accounts.push(await n.bus.request(identityCreate, {}))
    const [sender, ...recipients] = nodes
    const certs = await Promise.all(recipients.slice(0, 3).map((n) => certOf(n.bus)))
    for (const c of certs) expect(c.v).toBe(2)
    const sealed = await sender!.bus.request(identitySeal, { id: '01JENVELOPE00000000000001', payload: b64('hi there'), recipients: certs })
    expect(sealed.recipients.sort()).toEqual(accounts.slice(1, 4).map((a) => a.deviceId).sort())
    for (const r of recipients.slice(0, 3)) {
      const opened = await r.bus.request(identityOpen, { envelope: sealed.envelope })
      expect(text(opened.payload)).toBe('hi there')
      expect(opened.sender).toMatchObject({ accountId: accounts[0]!.accountId, deviceId: accounts[0]!.deviceId })
      expect(verifyChain({ deviceCert: opened.senderCert }).deviceId).toBe(accounts[0]!.deviceId)
    }
    await expect(recipients[3]!.bus.request(identityOpen, { envelope: sealed.envelope })).rejects.toMatchObject({
      code: 'not_for_this_device',
      details: { reason: 'not-for-this-device' },
    })
    const r1 = recipients[0]!
    await expect(r1.bus.request(identityOpen, { envelope: sealed.envelope })).rejects.toMatchObject({ code: 'replayed' })
    // The window is on disk: a restarted identity refuses it too.
    await r1.rt.stop('restart')
    r1.rt = await r1.start()
    await expect(r1.bus.request(identityOpen, { envelope: sealed.envelope })).rejects.toMatchObject({ code: 'replayed', details: { reason: 'replayed' } })
    const health = await r1.bus.request(healthContractOf('identity'), {})
    expect(health.details).toMatchObject({ replayWindow: 1 })
    // Another ID from the same sender still opens.
    const next = await sender!.bus.request(identitySeal, { id: '01JENVELOPE00000000000002', payload: b64('again'), recipients: certs })
    expect(text((await r1.bus.request(identityOpen, { envelope: next.envelope })).payload)).toBe('again')
  })

  it('self: seals to this device too (no recipient needed: a body at rest); skipReplayWindow opens again and again and records nothing', async () => {
    const { nodes } = await network(['s', 'r'])
    const [me, other] = [await nodes[0]!.bus.request(identityCreate, {}), await nodes[1]!.bus.request(identityCreate, {})]
    const [s, r] = [nodes[0]!.bus, nodes[1]!.bus]
    await expect(s.request(identitySeal, { id: 'none', payload: b64('x'), recipients: [] })).rejects.toMatchObject({ code: 'invalid_argument' })
    const atRest = await s.request(identitySeal, { id: '01JSELF0000000000000000001', payload: b64('kept sealed'), recipients: [], self: true })
    expect(atRest.recipients).toEqual([me.deviceId])
    for (let i = 0; i < 3; i++) expect(text((await s.request(identityOpen, { envelope: atRest.envelope, skipReplayWindow: true })).payload)).toBe('kept sealed')
    // Sealed to this device alone it is a body at rest (docs/envelopes.md): never in the replay window, this device's only.
    expect(Buffer.from(atRest.envelope, 'base64')[0]).toBe(0x81)
    for (let i = 0; i < 2; i++) expect(text((await s.request(identityOpen, { envelope: atRest.envelope })).payload)).toBe('kept sealed')
    await expect(r.request(identityOpen, { envelope: atRest.envelope, skipReplayWindow: true })).rejects.toMatchObject({ code: 'not_for_this_device' })
    const altered = Buffer.from(atRest.envelope, 'base64')
    altered[altered.length - 1]! ^= 1
    await expect(s.request(identityOpen, { envelope: altered.toString('base64'), skipReplayWindow: true })).rejects.toMatchObject({ code: 'bad_signature' })
    await expect(s.request(identitySeal, { id: 'too-big', payload: b64('x'.repeat(64 * 1024 - 100)), recipients: [], self: true })).rejects.toMatchObject({ code: 'too_large' })
    const both = await s.request(identitySeal, { id: '01JSELF0000000000000000002', payload: b64('to both'), recipients: [await certOf(r)], self: true })
    expect(both.recipients.sort()).toEqual([me.deviceId, other.deviceId].sort())
    // skipped, the pair was not recorded: the first ordinary open still passes, and the window refuses the next
    expect(text((await r.request(identityOpen, { envelope: both.envelope, skipReplayWindow: true })).payload)).toBe('to both')
    expect(text((await r.request(identityOpen, { envelope: both.envelope })).payload)).toBe('to both')
    await expect(r.request(identityOpen, { envelope: both.envelope })).rejects.toMatchObject({ code: 'replayed' })
    // every other check still runs
    const bad = Buffer.from(both.envelope, 'base64')
    bad[bad.length - 1]! ^= 1
    await expect(r.request(identityOpen, { envelope: bad.toString('base64'), skipReplayWindow: true })).rejects.toMatchObject({ code: 'bad_signature' })
  })

  it('signs mailbox fetch requests for this device’s own mailboxes only; garbage and no account get typed errors', async () => {
    const { nodes } = await network(['f', 'g'])
    const s = nodes[0]!.bus
    const me = (await s.request(identityCreate, {})).deviceId
    const [mine, last] = mailboxesOf(me)
    const other = (await nodes[1]!.bus.request(identityCreate, {})).deviceId
    const at = Date.now()
    const req = await s.request(identitySignMailboxFetch, { mailbox: mine!, at })
    expect(req).toMatchObject({ v: 1, mailbox: mine, at })
    expect(verifyChain({ deviceCert: req.deviceCert }).deviceId).toBe(me)
    expect((await s.request(identitySignMailboxFetch, { mailbox: last! })).mailbox).toBe(last)
    await expect(s.request(identitySignMailboxFetch, { mailbox: mailboxesOf(other)[0]! })).rejects.toMatchObject({ code: 'invalid_argument' })
    await expect(s.request(identitySignMailboxFetch, { mailbox: 'nope' } as never)).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(s.request(identitySignMailboxFetch, { mailbox: mine!, extra: 1 } as never)).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('a flipped byte anywhere gives bad_signature or malformed, never a payload', async () => {
    const { nodes } = await network(['s', 'r'])
    for (const n of nodes) await n.bus.request(identityCreate, {})
    const sealed = await nodes[0]!.bus.request(identitySeal, { id: 'flip', payload: b64('secret'), recipients: [await certOf(nodes[1]!.bus)] })
    const bytes = Buffer.from(sealed.envelope, 'base64')
    // Positions spread over every part: header, sender certificate, recipient entry, ciphertext, signature.
    const positions = [0, 1, 5, 20, 200, bytes.length - 200, bytes.length - 100, bytes.length - 70, bytes.length - 30, bytes.length - 1]
    for (const i of positions) {
      const bad = Buffer.from(bytes)
      bad[i]! ^= 0x20
      const err = await nodes[1]!.bus.request(identityOpen, { envelope: bad.toString('base64') }).then(
        () => undefined,
        (e: { code: string }) => e,
      )
      expect(err, `byte ${i} opened`).toBeDefined()
      expect(['bad_signature', 'malformed']).toContain(err!.code)
    }
    // The untouched envelope still opens: failed attempts did not claim its ID.
    expect(text((await nodes[1]!.bus.request(identityOpen, { envelope: sealed.envelope })).payload)).toBe('secret')
  })

  it('a revoked sender is refused revoked_sender (own account, or revocations the caller passes); garbage gets typed errors', async () => {
    const { nodes } = await network(['a', 'b', 'c'])
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]]
    const accA = await a.bus.request(identityCreate, {})
    await c.bus.request(identityCreate, {})
    const { archive } = await a.bus.request(identityExportArchive, { password: 'pw' })
    await b.bus.request(identityImportArchive, { archive, password: 'pw' })
    const toC = await a.bus.request(identitySeal, { id: 'to-c', payload: b64('x'), recipients: [await certOf(c.bus)] })
    // B (same account) revokes A: B refuses A's envelopes from then on.
    const { revocations } = await b.bus.request(identityRevokeDevice, { deviceId: accA.deviceId })
    const toB = await a.bus.request(identitySeal, { id: 'to-b', payload: b64('y'), recipients: [await certOf(b.bus)] })
    await expect(b.bus.request(identityOpen, { envelope: toB.envelope })).rejects.toMatchObject({ code: 'revoked_sender', details: { reason: 'revoked-sender' } })
    // C, of another account, refuses it once the caller hands it the account's revocations.
    await expect(c.bus.request(identityOpen, { envelope: toC.envelope, senderRevocations: revocations })).rejects.toMatchObject({ code: 'revoked_sender' })
    const forged = { ...revocations, body: { ...(revocations.body as object), devices: [] } }
    await expect(c.bus.request(identityOpen, { envelope: toC.envelope, senderRevocations: forged })).rejects.toMatchObject({ code: 'invalid_argument' })
    await expect(c.bus.request(identityOpen, { envelope: toC.envelope })).resolves.toMatchObject({ id: 'to-c' })

    await expect(a.bus.request(identityOpen, { envelope: b64('garbage') })).rejects.toMatchObject({ code: 'malformed' })
    await expect(a.bus.request(identityOpen, { envelope: Buffer.alloc(70_000).toString('base64') })).rejects.toMatchObject({ code: 'too_large' })
    await expect(a.bus.request(identityOpen, { envelope: '!!!' } as never)).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(a.bus.request(identityOpen, {} as never)).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(a.bus.request(identitySeal, { id: 'bad id', payload: b64('x'), recipients: [await certOf(b.bus)] })).rejects.toMatchObject({ code: 'invalid_request' })
    await expect(a.bus.request(identitySeal, { id: 'x', payload: b64('x'), recipients: [{ ...(await certOf(b.bus)), sig: 'A'.repeat(86) }] })).rejects.toMatchObject({ code: 'bad_recipient' })
    await expect(a.bus.request(identitySeal, { id: 'x', payload: Buffer.alloc(65_536).toString('base64'), recipients: [await certOf(b.bus)] })).rejects.toMatchObject({ code: 'too_large' })
  })

  it('an identity started on a store written before encryption keys re-issues its certificate as version 2; no reply carries the seed', async () => {
    const nats = await setupNats({ cleanup, node: 'old' })
    const dataDir = await tempDir(cleanup)
    // A version 1 store, written with today's encoder (no encSeed, version 1 certificate).
    const account = keyPairFromSeed(new Uint8Array(32).fill(3))
    const device = nacl.sign.keyPair()
    const payload = newAccountPayload(
      { accountSecretKey: account.secretKey, now: Date.now() },
      { privateKey: `0x${'22'.repeat(32)}`, address: '0x1563915e194D8CfBA1943570603F7606A3115508' },
      { publicKey: device.publicKey, name: 'old-device' },
      1,
    )
    await writeFileAtomic(join(dataDir, 'identity'), 'identity.store', encodeStoreFile({ account: payload, deviceSecretKey: device.secretKey }))
    await runInline(identityActor, { cleanup, node: 'old', url: nats.url, dataDir, config: { kdf } })
    const { deviceCert } = await nats.bus.request(identityPeerBinding, { peerId: 'p' })
    expect(deviceCert.v).toBe(2)
    expect(verifyChain({ deviceCert }).encKey).toBeDefined()
    const { content } = await decodeStoreFile(new Uint8Array(await readFile(join(dataDir, 'identity', 'identity.store'))))
    const seed = toBase64Url(content.encSeed!)
    const { archive } = await nats.bus.request(identityExportArchive, { password: 'pw' })
    const sealed = await nats.bus.request(identitySeal, { id: 'self', payload: b64('to myself'), recipients: [deviceCert] })
    const opened = await nats.bus.request(identityOpen, { envelope: sealed.envelope })
    for (const reply of [deviceCert, sealed, opened]) expect(JSON.stringify(reply)).not.toContain(seed)
    const restored = await decodeArchive(new Uint8Array(Buffer.from(archive, 'base64')), 'pw')
    expect(JSON.stringify(restored)).not.toContain(seed)
    expect(text(opened.payload)).toBe('to myself')
  })

  it('a flood of garbage opens keeps memory bounded and the actor answering', async () => {
    const { nodes } = await network(['a', 'b'])
    for (const n of nodes) await n.bus.request(identityCreate, {})
    const good = await nodes[1]!.bus.request(identitySeal, { id: 'after-flood', payload: b64('still here'), recipients: [await certOf(nodes[0]!.bus)] })
    const junk = Buffer.alloc(60_000, 7).toString('base64')
    const rounds = 40
    const perRound = 50
    global.gc?.()
    const before = process.memoryUsage().heapUsed
    for (let round = 0; round < rounds; round++) {
      const codes = await Promise.all(
        Array.from({ length: perRound }, (_, i) =>
          nodes[0]!.bus.request(identityOpen, { envelope: i % 2 ? junk : good.envelope.slice(0, -8) }).then(
            () => 'opened',
            (e: { code: string }) => e.code,
          ),
        ),
      )
      for (const c of codes) expect(['malformed', 'bad_signature']).toContain(c)
    }
    global.gc?.()
    const grown = process.memoryUsage().heapUsed - before
    // 2000 refused requests of up to 80 KB each: nothing of them may stay (the replay window records none).
    expect(grown).toBeLessThan(64 * 1024 * 1024)
    const opened = await nodes[0]!.bus.request(identityOpen, { envelope: good.envelope })
    expect(text(opened.payload)).toBe('still here')
  })
})
