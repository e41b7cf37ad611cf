import { defineActor, periodic, retry } from '@baran/actor'
import {
  type AccountSummary,
  BusError,
  BusErrorCode,
  discoveryDeviceList,
  discoveryLookupDeviceList,
  type EthTx,
  identityAccountCreated,
  identityAddContact,
  identityCertifyDevice,
  identityClearConversationName,
  identityContacts,
  identityConversationNames,
  identityContracts,
  identityCreate,
  identityDeviceAdded,
  identityDeviceRevoked,
  identityDevices,
  identityDevicesChanged,
  identityEthSignMessage,
  identityEthSignTransaction,
  identityExportArchive,
  identityImportArchive,
  identityLinkAccept,
  identityLinkLocate,
  identityLinkOffer,
  identityPeerBinding,
  identityRemoveContact,
  identityRevokeDevice,
  identitySetConversationName,
  identitySignMailboxDelete,
  identitySignMailboxFetch,
  identitySignNameClaim,
  identitySignPresence,
  identityStatus,
  identityVerifyChain,
} from '@baran/bus'
import { nameClaimMessage, verifyChain } from '@baran/trust'
import { join } from 'node:path'
import { z } from 'zod'
import { DEFAULT_SCRYPT } from './lib/constants.ts'
import { EnvelopeService } from './lib/envelopes.ts'
import { signMailboxDelete, signMailboxFetch } from './lib/mailbox-delete.ts'
import { deriveLinkKeys } from './lib/link.ts'
import { ReplayWindow } from './lib/replay-window.ts'
import { type AccountInfo, SealedKeyring } from './lib/store.ts'
import type { RemoteDeviceList } from './lib/sync.ts'
import { serveBlocks } from './serve-blocks.ts'
import { serveEnvelopes } from './serve-envelopes.ts'

/** How often the actor renews its own records before they expire. */
const REFRESH_EVERY_MS = 24 * 3600_000
/** After start, ask discovery for the account's device list on the DHT (it may have changed meanwhile): attempts and first wait. */
const CATCH_UP_ATTEMPTS = 6
const CATCH_UP_FIRST_WAIT_MS = 1_000

type DevicesChangeReason = 'created' | 'imported' | 'linked' | 'certified' | 'revoked' | 'merged' | 'renewed'

const ConfigSchema = z
  .object({
    /** Seal the key store with a passphrase (or set BARAN_IDENTITY_PASSPHRASE). */
    passphrase: z.string().min(1).optional(),
    /** scrypt cost of archives and the sealed store (tests use a small N). */
    kdf: z.object({ N: z.number().int(), r: z.number().int(), p: z.number().int() }).strict().optional(),
    /** The name of this device (default: the host name). */
    deviceName: z.string().min(1).max(64).optional(),
  })
  .strict()

function summary(info: AccountInfo): AccountSummary {
  return {
    accountId: info.accountId,
    accountKey: info.accountKey,
    deviceId: info.deviceId,
    deviceKey: info.deviceKey,
    deviceName: info.deviceName,
    ethAddress: info.ethAddress,
    devices: info.devices,
    revoked: info.revoked,
  }
}

function accountExists(info: AccountInfo): BusError {
  return new BusError('account_exists', `this node already holds account ${info.accountId}: link a node that has no account`)
}

function noAccount(): BusError {
  return new BusError('no_account', 'this node holds no account yet: run `baran account create` (or import an archive, or link a device)')
}

function toEthersTx(tx: EthTx) {
  return {
    to: tx.to ?? null,
    data: tx.data ?? '0x',
    value: BigInt(tx.value ?? '0'),
    nonce: tx.nonce,
    gasLimit: BigInt(tx.gasLimit),
    chainId: BigInt(tx.chainId),
    ...(tx.type === undefined ? {} : { type: tx.type }),
    ...(tx.gasPrice === undefined ? {} : { gasPrice: BigInt(tx.gasPrice) }),
    ...(tx.maxFeePerGas === undefined ? {} : { maxFeePerGas: BigInt(tx.maxFeePerGas) }),
    ...(tx.maxPriorityFeePerGas === undefined ? {} : { maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas) }),
  }
}

/**
 * The identity actor: the only process that ever holds private keys. It answers with public data and
 * signatures; which caller may ask for which signature is decided by the bus permissions of each verb.
 */
export const identityActor = defineActor({
  name: 'identity',
  version: '0.1.0',
  implementation: '@baran/identity',
  contracts: identityContracts,
  config: ConfigSchema,
  async start(ctx) {
    const passphrase = ctx.config.passphrase ?? process.env.BARAN_IDENTITY_PASSPHRASE
    const kdf = ctx.config.kdf ?? DEFAULT_SCRYPT
    const store = new SealedKeyring({ dir: join(ctx.dataDir, 'identity'), ...(passphrase ? { passphrase } : {}), kdf, log: ctx.log })
    await store.load()
    const replay = new ReplayWindow({ dir: join(ctx.dataDir, 'identity') })
    await replay.load()
    const envelopes = new EnvelopeService({ store, replay })
    // For the per-message handlers (seal, open): info() copies the account's records at every call.
    const mustHaveAccount = () => {
      if (!store.hasAccount()) throw noAccount()
    }
    const account = () => {
      mustHaveAccount()
      return store.info()
    }
    // Every change of the device list or revocations is announced, so discovery publishes them again.
    const devicesChanged = (reason: DevicesChangeReason) => {
      const info = store.info()
      ctx.publish(identityDevicesChanged, { accountId: info.accountId, seq: info.deviceList.seq, revocationsSeq: info.revocations.seq, reason })
    }
    const renew = async () => {
      if (store.hasAccount() && (await store.refresh())) {
        ctx.log.info('renewed records close to expiry')
        devicesChanged('renewed')
      }
    }
    await renew()
    const refresher = periodic(renew, REFRESH_EVERY_MS, { signal: ctx.signal, log: ctx.log, name: 'record refresh' })

    ctx.serve(identityStatus, () => (store.hasAccount() ? { hasAccount: true, account: summary(store.info()) } : { hasAccount: false }))

    ctx.serve(identityCreate, async ({ deviceName }) => {
      const info = await store.createAccount({ ...((deviceName ?? ctx.config.deviceName) ? { deviceName: deviceName ?? ctx.config.deviceName } : {}) })
      ctx.publish(identityAccountCreated, { accountId: info.accountId, deviceId: info.deviceId, imported: false })
      devicesChanged('created')
      ctx.log.info({ accountId: info.accountId, deviceId: info.deviceId }, 'account created')
      return summary(info)
    })

    ctx.serve(identityExportArchive, async ({ password }) => {
      const info = account()
      const bytes = await store.exportArchive(password, { kdf })
      ctx.log.info({ accountId: info.accountId, bytes: bytes.length }, 'archive exported')
      return { archive: Buffer.from(bytes).toString('base64'), accountId: info.accountId, bytes: bytes.length }
    })

    ctx.serve(identityImportArchive, async ({ archive, password, deviceName }) => {
      const name = deviceName ?? ctx.config.deviceName
      const info = await store.importArchive(new Uint8Array(Buffer.from(archive, 'base64')), password, name ? { deviceName: name } : {})
      ctx.publish(identityAccountCreated, { accountId: info.accountId, deviceId: info.deviceId, imported: true })
      ctx.publish(identityDeviceAdded, { accountId: info.accountId, deviceId: info.deviceId, name: info.deviceName })
      devicesChanged('imported')
      ctx.log.info({ accountId: info.accountId, deviceId: info.deviceId }, 'account imported')
      return summary(info)
    })

    ctx.serve(identityDevices, () => {
      const info = account()
      return { devices: info.devices, revoked: info.revoked, deviceList: info.deviceList, revocations: info.revocations }
    })

    ctx.serve(identityRevokeDevice, async ({ deviceId }) => {
      account()
      await store.revokeDevice(deviceId)
      const info = store.info()
      ctx.publish(identityDeviceRevoked, { accountId: info.accountId, deviceId, revocations: info.revocations })
      devicesChanged('revoked')
      ctx.log.info({ deviceId }, 'device revoked')
      return { revoked: deviceId, revocations: info.revocations, deviceList: info.deviceList }
    })

    ctx.serve(identityCertifyDevice, async ({ deviceKey, name }) => {
      account()
      const deviceCert = await store.certifyDevice(deviceKey, name)
      const info = store.info()
      ctx.publish(identityDeviceAdded, { accountId: info.accountId, deviceId: deviceCert.body.deviceId, name })
      devicesChanged('certified')
      return { deviceCert, deviceList: info.deviceList }
    })

    ctx.serve(identityPeerBinding, ({ peerId, ttlMs }) => {
      const info = account()
      const peerBinding = store.issuePeerBinding(peerId, ttlMs === undefined ? {} : { ttlMs })
      return { deviceCert: info.deviceCert, peerBinding, revocations: info.revocations }
    })

    // Public data only: any process may have a chain checked (trust errors keep their codes).
    ctx.serve(identityVerifyChain, ({ deviceCert, peerBinding, revocations, expect }) => {
      const chain = verifyChain({ deviceCert, ...(peerBinding ? { peerBinding } : {}), ...(revocations ? { revocations } : {}), ...(expect ? { expect } : {}) })
      return {
        accountId: chain.accountId,
        accountKey: chain.accountKey,
        deviceId: chain.deviceId,
        deviceKey: chain.deviceKey,
        deviceName: chain.deviceName,
        ...(chain.peerId ? { peerId: chain.peerId } : {}),
      }
    })

    ctx.serve(identitySignPresence, ({ peerId, addrs, ttlMs }) => {
      const info = account()
      const peerBinding = store.issuePeerBinding(peerId)
      const presence = store.signRecord(
        { type: 'presence', body: { accountId: info.accountId, deviceId: info.deviceId, peerId, addrs }, ...(ttlMs === undefined ? {} : { ttlMs }) },
        'device',
      )
      return { presence, deviceCert: info.deviceCert, peerBinding, revocations: info.revocations }
    })

    // Sealed envelopes: the device's Ed25519 and X25519 private keys stay here; callers get bytes and verified senders.
    serveEnvelopes(ctx, envelopes, mustHaveAccount)

    // DHT mailbox deletes: signed with the device key, only for this device's own mailboxes.
    ctx.serve(identitySignMailboxDelete, async ({ mailbox, items, at }) => {
      account()
      const keys = await store.envelopeKeys()
      return signMailboxDelete(keys, { mailbox, items, ...(at === undefined ? {} : { at }) })
    })
    ctx.serve(identitySignMailboxFetch, async ({ mailbox, at }) => {
      account()
      return signMailboxFetch(await store.envelopeKeys(), { mailbox, ...(at === undefined ? {} : { at }) })
    })

    ctx.serve(identitySignNameClaim, ({ name, owner, chainId, registry }) => {
      const info = account()
      const signature = store.signDetached(nameClaimMessage({ name, owner, chainId: BigInt(chainId), registry }), 'account')
      return { signature, accountId: info.accountId, accountKey: info.accountKey }
    })

    ctx.serve(identityEthSignTransaction, async ({ tx }) => {
      account()
      const wallet = store.ethWallet()
      return { signed: await wallet.signTransaction(toEthersTx(tx)), from: wallet.address }
    })

    ctx.serve(identityEthSignMessage, async ({ message }) => {
      account()
      const wallet = store.ethWallet()
      return { signature: await wallet.signMessage(message), from: wallet.address }
    })

    ctx.serve(identityContacts, () => ({ contacts: store.hasAccount() ? store.contacts() : [] }))
    ctx.serve(identityAddContact, async (c) => {
      account()
      return store.addContact(c)
    })
    ctx.serve(identityRemoveContact, async ({ accountId }) => {
      account()
      return { removed: await store.removeContact(accountId) }
    })
    serveBlocks(ctx, store, account)
    // Conversation names: one more account-state register kind (`names`), so they sync like contacts.
    ctx.serve(identityConversationNames, (req) => {
      const names = store.hasAccount() ? store.conversationNames() : []
      return { names: req?.peer ? names.filter((n) => n.peer === req.peer) : names }
    })
    ctx.serve(identitySetConversationName, async ({ peer, name }) => {
      account()
      return store.nameConversation(peer, name)
    })
    ctx.serve(identityClearConversationName, async ({ peer }) => {
      account()
      return { cleared: await store.clearConversationName(peer) }
    })

    // Device linking. The account leaves this actor only sealed under the PIN (which goes to the user, not to
    // discovery): the CLI carries the sealed value to discovery, which stores it as an opaque blob.
    ctx.serve(identityLinkOffer, async ({ ttlMs }) => {
      const info = account()
      const offer = await store.sealLinkOffer(ttlMs === undefined ? {} : { ttlMs })
      ctx.log.info({ accountId: info.accountId, bytes: offer.value.length, expiresAt: offer.expiresAt }, 'link offer sealed')
      return { pin: offer.pin, key: offer.key, value: Buffer.from(offer.value).toString('base64'), deleteToken: offer.deleteToken, expiresAt: offer.expiresAt }
    })

    ctx.serve(identityLinkLocate, async ({ pin }) => {
      const keys = await deriveLinkKeys(pin)
      keys.secretKey.fill(0)
      return { key: keys.key, deleteToken: Buffer.from(keys.deleteToken).toString('base64url') }
    })

    ctx.serve(identityLinkAccept, async ({ pin, value, deviceName }) => {
      if (store.hasAccount()) throw accountExists(store.info())
      const name = deviceName ?? ctx.config.deviceName
      const info = await store.importLinkOffer(new Uint8Array(Buffer.from(value, 'base64')), pin, name ? { deviceName: name } : {})
      ctx.publish(identityAccountCreated, { accountId: info.accountId, deviceId: info.deviceId, imported: true })
      ctx.publish(identityDeviceAdded, { accountId: info.accountId, deviceId: info.deviceId, name: info.deviceName })
      devicesChanged('linked')
      ctx.log.info({ accountId: info.accountId, deviceId: info.deviceId }, 'linked as a new device of the account')
      return summary(info)
    })

    // Device-list sync: another device of the account may change the list too; merge what the DHT holds.
    const merge = async (remote: RemoteDeviceList, source: 'dht' | 'lookup') => {
      try {
        if (ctx.signal.aborted || !store.hasAccount()) return
        const r = await store.mergeDeviceList(remote)
        if (!r.changed) return
        const info = store.info()
        for (const d of r.added) ctx.publish(identityDeviceAdded, { accountId: info.accountId, deviceId: d.deviceId, name: d.name })
        for (const d of r.revoked) ctx.publish(identityDeviceRevoked, { accountId: info.accountId, deviceId: d.deviceId, revocations: info.revocations })
        devicesChanged('merged')
        ctx.log.info({ source, seq: info.deviceList.seq, resigned: r.resigned, added: r.added.length, revoked: r.revoked.length }, 'device list merged')
        if (r.revoked.some((d) => d.deviceId === info.deviceId)) ctx.log.warn({ deviceId: info.deviceId }, 'another device of the account revoked this device')
      } catch (e) {
        ctx.log.warn({ err: e, source }, 'device list not merged')
      }
    }
    // Lists of other accounts are none of ours (discovery reports only this node's; a foreign one is dropped quietly).
    await ctx.subscribe(discoveryDeviceList, async (e) => {
      if (!ctx.signal.aborted && store.hasAccount() && e.accountId === store.info().accountId) await merge(e, 'dht')
    })
    // This actor may have been down while the list changed: ask discovery once it is up (bounded back-off).
    const catchUp = () =>
      retry(
        async () => {
          if (!store.hasAccount()) return
          const r = await ctx.bus.request(discoveryLookupDeviceList, { accountId: store.info().accountId }, { timeoutMs: 15_000 })
          await merge({ deviceList: r.deviceList, ...(r.revocations ? { revocations: r.revocations } : {}) }, 'lookup')
        },
        {
          signal: ctx.signal,
          delayFirst: true,
          initialMs: CATCH_UP_FIRST_WAIT_MS,
          maxMs: CATCH_UP_FIRST_WAIT_MS * 2 ** (CATCH_UP_ATTEMPTS - 1),
          attempts: CATCH_UP_ATTEMPTS,
          // Nothing on the DHT yet: nothing to catch up with.
          retryIf: (e) => !(e instanceof BusError && e.code === BusErrorCode.NotFound),
          onRetry: (e) => ctx.log.debug({ err: (e as Error).message }, 'device list catch-up: discovery not ready'),
        },
      )
    if (store.hasAccount()) void catchUp().catch(() => {})

    if (!store.hasAccount()) ctx.log.info('no account yet: identity is ready with none (baran account create)')
    else ctx.log.info({ accountId: store.info().accountId }, 'account loaded')
    return {
      async stop() {
        refresher.stop()
        await store.close()
      },
      health: () => ({
        hasAccount: store.hasAccount(),
        ...(store.hasAccount() ? { accountId: store.info().accountId } : {}),
        replayWindow: replay.size,
      }),
    }
  },
})
