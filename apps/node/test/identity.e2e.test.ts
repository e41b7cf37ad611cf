import { identityContracts, identityExportArchive, identityPeerBinding, identityVerifyChain, requestSubject } from '@baran/bus'
import { Cleanup, tempDir } from '@baran/testkit'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { permissionsFor } from '../src/lib/bus-auth.ts'
import { cli, connectAs, startNode, type TestNode, hashDir } from './helpers.ts'

const cleanup = new Cleanup()
let a: TestNode
let b: TestNode
let work: string

beforeAll(async () => {
  a = await startNode(cleanup, {}, { name: 'alice' })
  b = await startNode(cleanup, {}, { name: 'bob' })
  work = await tempDir(cleanup)
}, 60_000)
afterAll(() => cleanup.run())

async function json<T>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await cli(cleanup, [...args, '--json'], env)
  expect(r.code, r.out).toBe(0)
  return JSON.parse(r.out) as T
}


type Account = { accountId: string; deviceId: string; devices: Array<{ deviceId: string; current: boolean }>; revoked: string[] }

/** Tests that run the CLI several times (a process each; ~1-2 s apiece at load ~10, 17 s for the restore there). */
const CLI_TEST_MS = 60_000

describe('identity across two node processes', () => {
  let alice: Account

  it('runs identity by default and creates an account from the CLI', async () => {
    expect((await a.status()).actors.identity?.state).toBe('ready')
    const none = await cli(cleanup, ['account', 'show', '--data-dir', a.dataDir])
    expect(none.code).toBe(3)
    expect(none.out).toMatch(/no account/)
    alice = await json<Account>(['account', 'create', '--data-dir', a.dataDir])
    const shown = await json<Account>(['account', 'show', '--data-dir', a.dataDir])
    expect(shown).toMatchObject({ accountId: alice.accountId, deviceId: alice.deviceId })
    expect(shown.devices).toHaveLength(1)
  })

  it('keeps contacts and blocks from the CLI: add, rename, block, unblock; bad input is a usage error', async () => {
    const peer = 'ab'.repeat(20)
    const dir = ['--data-dir', a.dataDir]
    expect(await json(['contacts', 'add', peer, '--as', 'Bob', ...dir])).toMatchObject({ accountId: peer, name: 'Bob' })
    expect(await json<Array<{ accountId: string; name?: string }>>(['contacts', 'list', ...dir])).toEqual([expect.objectContaining({ accountId: peer, name: 'Bob' })])
    expect(await json(['block', peer, ...dir])).toMatchObject({ accountId: peer })
    expect((await json<Array<{ accountId: string }>>(['blocks', ...dir])).map((b) => b.accountId)).toEqual([peer])
    expect(await json(['unblock', peer, ...dir])).toEqual({ unblocked: true })
    const again = await cli(cleanup, ['unblock', peer, ...dir])
    expect([again.code, again.out.trim()]).toEqual([1, 'was not blocked'])
    const self = await cli(cleanup, ['block', alice.accountId, ...dir])
    expect(self.code, self.out).toBe(2)
    expect(self.out).toMatch(/cannot block itself/)
    expect(await json(['contacts', 'remove', peer, ...dir])).toEqual({ removed: true })
    expect(await json(['blocks', ...dir])).toEqual([])
  }, CLI_TEST_MS)

  it('names conversations from the CLI: name, list, clear; a name with --clear, neither, or a bad name is a usage error', async () => {
    const peer = 'cd'.repeat(20)
    const dir = ['--data-dir', a.dataDir]
    expect(await json(['conversations', 'name', peer, 'Team', ...dir])).toEqual({ peer, name: 'Team', at: expect.any(Number) })
    expect(await json(['conversations', ...dir])).toEqual([{ peer, name: 'Team', at: expect.any(Number) }])
    for (const args of [[peer], [peer, 'x', '--clear'], [peer, '  '], [peer, 'x'.repeat(129)]]) {
      const r = await cli(cleanup, ['conversations', 'name', ...args, ...dir])
      expect(r.code, `${args.join(' ')}: ${r.out}`).toBe(2)
    }
    expect(await json(['conversations', 'name', peer, '--clear', ...dir])).toEqual({ peer, cleared: true })
    const again = await cli(cleanup, ['conversations', 'name', peer, '--clear', ...dir])
    expect([again.code, again.out.trim()]).toEqual([1, 'the conversation had no name'])
    expect(await json(['conversations', 'list', ...dir])).toEqual([])
  }, CLI_TEST_MS)

  it("lets node B verify a peer binding issued by node A's identity actor, from public data only", async () => {
    const chain = await a.bus.request(identityPeerBinding, { peerId: '12D3KooWAlicePeer' })
    const verified = await b.bus.request(identityVerifyChain, { ...chain, expect: { peerId: '12D3KooWAlicePeer' } })
    expect(verified).toMatchObject({ accountId: alice.accountId, deviceId: alice.deviceId })
  })

  it('restores the account on node B from an archive; a wrong password changes nothing', async () => {
    const archive = join(work, 'alice.baran')
    await writeFile(join(work, 'pw'), 'correct horse battery\n')
    await writeFile(join(work, 'bad'), 'wrong\n')
    const exported = await json<{ accountId: string; bytes: number }>(['account', 'export', archive, '--password-file', join(work, 'pw'), '--data-dir', a.dataDir])
    expect(exported.accountId).toBe(alice.accountId)
    expect((await stat(archive)).mode & 0o777).toBe(0o600)

    const before = await hashDir(join(b.dataDir, 'identity'))
    const wrong = await cli(cleanup, ['account', 'import', archive, '--password-file', join(work, 'bad'), '--data-dir', b.dataDir])
    expect(wrong.code).toBe(1)
    expect(wrong.out).toMatch(/password/i)
    expect(await hashDir(join(b.dataDir, 'identity'))).toBe(before)

    const bob = await json<Account>(['account', 'import', archive, '--password-file', join(work, 'pw'), '--data-dir', b.dataDir])
    expect(bob.accountId).toBe(alice.accountId)
    expect(bob.deviceId).not.toBe(alice.deviceId)
    expect(bob.devices.map((d) => d.deviceId)).toContain(alice.deviceId)
    // B's new device certificate verifies, on A
    const chain = await b.bus.request(identityPeerBinding, { peerId: '12D3KooWBobPeer' })
    await expect(a.bus.request(identityVerifyChain, { ...chain, expect: { accountId: alice.accountId } })).resolves.toMatchObject({ deviceId: bob.deviceId })
  }, CLI_TEST_MS)

  it('refuses the certificate and bindings of a revoked device from then on', async () => {
    const aliceChain = await a.bus.request(identityPeerBinding, { peerId: '12D3KooWAlicePeer' })
    const r = await cli(cleanup, ['devices', 'revoke', alice.deviceId, '--data-dir', b.dataDir])
    expect(r.code, r.out).toBe(0)
    const listed = await json<{ revoked: string[] }>(['devices', 'list', '--data-dir', b.dataDir])
    expect(listed.revoked).toEqual([alice.deviceId])
    const { revocations } = await b.bus.request((await import('@baran/bus')).identityDevices, {})
    await expect(b.bus.request(identityVerifyChain, { ...aliceChain, revocations })).rejects.toMatchObject({ code: 'revoked' })
  })
})

describe('identity bus permissions', () => {
  it('never lets the transport user ask for the archive (derived from the contracts)', () => {
    const transport = permissionsFor('transport', 'n1', identityContracts, { actor: true })
    expect(transport.publish).not.toContain(requestSubject('n1', 'identity', 'exportArchive'))
    expect(transport.publish).toContain(requestSubject('n1', 'identity', 'peerBinding'))
    expect(transport.subscribe.some((s) => s.startsWith('baran.n1.identity'))).toBe(false)
    const cliPerms = permissionsFor('cli', 'n1', identityContracts, { actor: false })
    expect(cliPerms.publish).toContain(requestSubject('n1', 'identity', 'exportArchive'))
  })

  it("refuses the transport actor's bus user the archive, on a running node", async () => {
    const asTransport = await connectAs(a, 'transport', cleanup)
    await expect(asTransport.request(identityExportArchive, { password: 'x' })).rejects.toMatchObject({ code: 'forbidden' })
    await expect(asTransport.subscribeRaw(`baran.${a.node}.identity.exportArchive`, () => {})).rejects.toMatchObject({ code: 'forbidden' })
    // what transport is allowed to ask for still works
    await expect(asTransport.request(identityPeerBinding, { peerId: '12D3KooWTransportPeer' })).resolves.toMatchObject({ peerBinding: expect.any(Object) })
  })
})
