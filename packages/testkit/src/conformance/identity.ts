import {
  type Bus,
  identityAccountCreated,
  identityAddContact,
  identityClearConversationName,
  identityContacts,
  identityConversationNames,
  identityCreate,
  identityDevices,
  identityExportArchive,
  identityImportArchive,
  identityOpen,
  identityPeerBinding,
  identityRemoveContact,
  identityRevokeDevice,
  identitySeal,
  identitySetConversationName,
  identitySignPresence,
  identityStatus,
  identityVerifyChain,
} from '@baran/bus'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { waitUntil } from '../lib/wait.ts'
import { checkDeclaredErrorCodes, checkMalformedBodies, expectCode, expectReply, expectShape, RuleViolation } from './assert.ts'
import type { TestSetup } from './types.ts'

/** What the identity suite needs: two nodes running the implementation, each still WITHOUT an account. */
export interface IdentityImpl {
  a: { node: string; bus: Bus }
  b: { node: string; bus: Bus }
}

/** The identity contract: accounts, chains a peer verifies from public data, archives, contacts, conversation names, error codes. */
export default (common: TestSetup<IdentityImpl>) =>
  describe('identity conformance', () => {
    checkDeclaredErrorCodes('identity conformance')
    let impl: IdentityImpl
    const req = <T>(side: 'a' | 'b', f: (bus: Bus, node: string) => Promise<T>) => f(impl[side].bus, impl[side].node)
    beforeAll(async () => {
      impl = await common.setup()
    })
    afterAll(() => common.teardown())

    it('identity.status: a node without an account says so, and signing refuses with no_account', async () => {
      const s = await expectReply(req('a', (bus, node) => bus.request(identityStatus, {}, { node })), 'identity.status')
      expectShape(s, { hasAccount: false }, 'identity.status: no account yet')
      await expectCode(req('a', (bus, node) => bus.request(identityPeerBinding, { peerId: '12D3KooWConformance' }, { node })), 'no_account', 'identity.peerBinding without an account')
    })

    it('identity.create: creates the account once, publishes accountCreated, and a second create is account_exists', async () => {
      const created: string[] = []
      const sub = await impl.a.bus.subscribe(identityAccountCreated, (e) => void created.push(e.accountId), { node: impl.a.node })
      await impl.a.bus.flush()
      try {
        const acc = await expectReply(req('a', (bus, node) => bus.request(identityCreate, { deviceName: 'conformance' }, { node })), 'identity.create')
        expectShape(acc, { deviceName: 'conformance', devices: [{ deviceId: acc.deviceId, current: true }] }, 'identity.create: the summary names the first device')
        await waitUntil(() => created.includes(acc.accountId), { timeoutMs: 5000 }).catch(() => {
          throw new RuleViolation('identity.create: accountCreated', 'no accountCreated event')
        })
        const s = await req('a', (bus, node) => bus.request(identityStatus, {}, { node }))
        expectShape(s, { hasAccount: true, account: { accountId: acc.accountId } }, 'identity.status: after create')
        await expectCode(req('a', (bus, node) => bus.request(identityCreate, {}, { node })), 'account_exists', 'identity.create: a second create')
      } finally {
        sub.unsubscribe()
      }
    })

    it('identity.verifyChain: a peer binding verifies on another node from public data; a tampered one is bad_signature', async () => {
      const rule = 'identity.verifyChain'
      const status = await req('a', (bus, node) => bus.request(identityStatus, {}, { node }))
      const chain = await expectReply(req('a', (bus, node) => bus.request(identityPeerBinding, { peerId: '12D3KooWConformance' }, { node })), 'identity.peerBinding')
      const ok = await expectReply(req('b', (bus, node) => bus.request(identityVerifyChain, { ...chain, expect: { peerId: '12D3KooWConformance' } }, { node })), rule)
      expectShape(ok, { accountId: status.account?.accountId, deviceId: status.account?.deviceId, peerId: '12D3KooWConformance' }, rule)
      await expectCode(req('b', (bus, node) => bus.request(identityVerifyChain, { ...chain, expect: { peerId: 'someone-else' } }, { node })), 'wrong_signer', `${rule}: another peer`)
      const forged = { ...chain.peerBinding, body: { ...chain.peerBinding.body, peerId: 'stolen' } }
      await expectCode(req('b', (bus, node) => bus.request(identityVerifyChain, { deviceCert: chain.deviceCert, peerBinding: forged }, { node })), 'bad_signature', `${rule}: a tampered binding is bad_signature`)
    })

    it('identity.signPresence: signs the given addresses with the device key, with its chain', async () => {
      const p = await expectReply(req('a', (bus, node) => bus.request(identitySignPresence, { peerId: '12D3KooWConformance', addrs: ['/ip4/127.0.0.1/tcp/1'] }, { node })), 'identity.signPresence')
      expectShape(p.presence.body, { addrs: ['/ip4/127.0.0.1/tcp/1'] }, 'identity.signPresence: the record carries the addresses')
    })

    it('identity.devices: lists the signed device list; revoking an unknown device is unknown_device', async () => {
      const d = await expectReply(req('a', (bus, node) => bus.request(identityDevices, {}, { node })), 'identity.devices')
      if (d.devices.length < 1) throw new RuleViolation('identity.devices', 'no devices listed')
      await expectCode(req('a', (bus, node) => bus.request(identityRevokeDevice, { deviceId: 'ab'.repeat(20) }, { node })), 'unknown_device', 'identity.revokeDevice: unknown device')
    })

    it('identity.importArchive: an exported archive imports elsewhere with its password; a wrong password is wrong_password', async () => {
      const rule = 'identity.importArchive'
      const ex = await expectReply(req('a', (bus, node) => bus.request(identityExportArchive, { password: 'conformance-pw' }, { node, timeoutMs: 30_000 })), 'identity.exportArchive')
      await expectCode(req('b', (bus, node) => bus.request(identityImportArchive, { archive: ex.archive, password: 'wrong' }, { node, timeoutMs: 30_000 })), 'wrong_password', `${rule}: wrong password`)
      const acc = await expectReply(req('b', (bus, node) => bus.request(identityImportArchive, { archive: ex.archive, password: 'conformance-pw', deviceName: 'second' }, { node, timeoutMs: 30_000 })), rule)
      expectShape(acc, { accountId: ex.accountId, deviceName: 'second' }, `${rule}: the same account, a new device`)
    })

    it('identity.seal / identity.open: sealed on a to b\'s device, opened by b once; refusals carry their reason codes', async () => {
      const rule = 'identity.open'
      const bChain = await req('b', (bus, node) => bus.request(identityPeerBinding, { peerId: '12D3KooWConformanceB' }, { node }))
      const payload = Buffer.from('conformance envelope').toString('base64')
      const sealed = await expectReply(req('a', (bus, node) => bus.request(identitySeal, { id: 'conformance-1', payload, recipients: [bChain.deviceCert] }, { node })), 'identity.seal')
      const opened = await expectReply(req('b', (bus, node) => bus.request(identityOpen, { envelope: sealed.envelope }, { node })), rule)
      const aStatus = await req('a', (bus, node) => bus.request(identityStatus, {}, { node }))
      expectShape(opened, { id: 'conformance-1', payload, sender: { deviceId: aStatus.account?.deviceId } }, `${rule}: payload and verified sender`)
      await expectCode(req('b', (bus, node) => bus.request(identityOpen, { envelope: sealed.envelope }, { node })), 'replayed', `${rule}: the same envelope twice`)
      await expectCode(req('a', (bus, node) => bus.request(identityOpen, { envelope: sealed.envelope }, { node })), 'not_for_this_device', `${rule}: on a device it is not sealed to`)
      const flipped = Buffer.from(sealed.envelope, 'base64')
      flipped[flipped.length - 1]! ^= 1
      await expectCode(req('b', (bus, node) => bus.request(identityOpen, { envelope: flipped.toString('base64') }, { node })), 'bad_signature', `${rule}: a flipped signature bit`)
      await expectCode(req('b', (bus, node) => bus.request(identityOpen, { envelope: Buffer.from('junk').toString('base64') }, { node })), 'malformed', `${rule}: junk`)
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'identity', 'open', ['{"envelope":1}', '{}'], 'invalid_request: identity.open')
    })

    it('identity.seal self: what a device seals to itself alone opens there again and again, and nowhere else', async () => {
      const rule = 'identity.seal self'
      const payload = Buffer.from('kept at rest').toString('base64')
      const kept = await expectReply(req('a', (bus, node) => bus.request(identitySeal, { id: 'conformance-self', payload, recipients: [], self: true }, { node })), rule)
      for (let i = 0; i < 2; i++) {
        const opened = await expectReply(req('a', (bus, node) => bus.request(identityOpen, { envelope: kept.envelope, skipReplayWindow: true }, { node })), `${rule}: opened again`)
        expectShape(opened, { id: 'conformance-self', payload }, `${rule}: the same payload each time`)
      }
      await expectCode(req('b', (bus, node) => bus.request(identityOpen, { envelope: kept.envelope, skipReplayWindow: true }, { node })), 'not_for_this_device', `${rule}: on another device`)
    })

    it('identity.contacts: add, list and remove a contact', async () => {
      const id = 'cd'.repeat(20)
      await expectReply(req('a', (bus, node) => bus.request(identityAddContact, { accountId: id, name: 'carol' }, { node })), 'identity.addContact')
      const list = await req('a', (bus, node) => bus.request(identityContacts, {}, { node }))
      if (!list.contacts.some((c) => c.accountId === id && c.name === 'carol')) throw new RuleViolation('identity.contacts', 'the added contact is not listed')
      const rm = await req('a', (bus, node) => bus.request(identityRemoveContact, { accountId: id }, { node }))
      expectShape(rm, { removed: true }, 'identity.removeContact')
    })

    it('identity.conversationNames: set, list and clear a conversation name; a blank name is invalid_argument', async () => {
      const peer = 'ce'.repeat(20)
      const set = await expectReply(req('a', (bus, node) => bus.request(identitySetConversationName, { peer, name: 'team' }, { node })), 'identity.setConversationName')
      expectShape(set, { peer, name: 'team' }, 'identity.setConversationName: the reply is the name')
      const list = await expectReply(req('a', (bus, node) => bus.request(identityConversationNames, {}, { node })), 'identity.conversationNames')
      if (!list.names.some((n) => n.peer === peer && n.name === 'team')) throw new RuleViolation('identity.conversationNames', 'the name set is not listed')
      await expectCode(req('a', (bus, node) => bus.request(identitySetConversationName, { peer, name: '   ' }, { node })), 'invalid_argument', 'identity.setConversationName: a blank name')
      const cleared = await req('a', (bus, node) => bus.request(identityClearConversationName, { peer }, { node }))
      expectShape(cleared, { cleared: true }, 'identity.clearConversationName')
      const after = await req('a', (bus, node) => bus.request(identityConversationNames, {}, { node }))
      if (after.names.some((n) => n.peer === peer)) throw new RuleViolation('identity.clearConversationName', 'a cleared name is still listed')
      const bad = ['{"peer":"zz","name":"x"}', `{"peer":"${peer}","name":${JSON.stringify('x'.repeat(129))}}`, `{"peer":"${peer}","name":1}`]
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'identity', 'setConversationName', bad, 'invalid_request: identity.setConversationName')
    })

    it('invalid_request: malformed identity bodies are refused with invalid_request', async () => {
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'identity', 'verifyChain', ['{"deviceCert":1}', '{}'], 'invalid_request: identity.verifyChain')
      await checkMalformedBodies(impl.a.bus, impl.a.node, 'identity', 'importArchive', ['{"archive":"!!","password":"x"}'], 'invalid_request: identity.importArchive')
    })
  })
