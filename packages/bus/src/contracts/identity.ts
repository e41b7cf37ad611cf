import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import {
  Base64Schema,
  DeviceCertWireSchema,
  DeviceListWireSchema,
  EthAddressSchema,
  IdSchema,
  KeySchema,
  PeerBindingWireSchema,
  PresenceWireSchema,
  RevocationsWireSchema,
} from './common.ts'
import { identityBlockContracts } from './identity-blocks.ts'
import { identityNameContracts } from './identity-names.ts'
import { identityEnvelopeContracts } from './identity-envelopes.ts'

/**
 * The identity actor: the only process that holds private keys. Each privilege is its own verb, so the
 * bus's permissions decide who may ask for what (discovery may get presence signed; only the CLI and the
 * UI may export the archive).
 */
const A = 'identity'
const USER = ['cli', 'ui'] as const

export const DeviceInfoSchema = z.object({ deviceId: IdSchema, deviceKey: KeySchema, name: z.string(), current: z.boolean() })
export const AccountSummarySchema = z.object({
  accountId: IdSchema,
  accountKey: KeySchema,
  deviceId: IdSchema,
  deviceKey: KeySchema,
  deviceName: z.string(),
  ethAddress: EthAddressSchema,
  devices: z.array(DeviceInfoSchema),
  revoked: z.array(IdSchema),
})
export type AccountSummary = z.infer<typeof AccountSummarySchema>

const password = z.string().min(1).max(1024)
const deviceName = z.string().min(1).max(64)

export const identityStatus = contract({
  actor: A,
  verb: 'status',
  request: z.object({}).strict().optional(),
  reply: z.object({ hasAccount: z.boolean(), account: AccountSummarySchema.optional() }),
  callers: ['*'],
  description: 'whether the node holds an account, and its public identity',
})

export const identityCreate = contract({
  actor: A,
  verb: 'create',
  request: z.object({ deviceName: deviceName.optional() }).strict(),
  reply: AccountSummarySchema,
  callers: USER,
  description: 'create an account: account key, first device and its certificate, Ethereum key',
  errors: ['account_exists', 'invalid_argument', 'passphrase_required'],
})

export const identityExportArchive = contract({
  actor: A,
  verb: 'exportArchive',
  request: z.object({ password }).strict(),
  reply: z.object({ archive: Base64Schema, accountId: IdSchema, bytes: z.number().int() }),
  callers: USER,
  description: 'the password-encrypted, compressed account archive',
  errors: ['no_account', 'invalid_argument', 'invalid_kdf_params'],
})

/**
 * Largest archive a client sends to importArchive: its base64 inside the request must fit one bus message (the
 * node's nats-server carries at most 1 MiB). Real archives are a few KiB.
 */
export const MAX_ARCHIVE_BYTES = 512 * 1024

export const identityImportArchive = contract({
  actor: A,
  verb: 'importArchive',
  request: z.object({ archive: Base64Schema.max(8 * 1024 * 1024), password, deviceName: deviceName.optional() }).strict(),
  reply: AccountSummarySchema,
  callers: USER,
  description: 'restore an account from its archive, as a new device of it',
  errors: ['account_exists', 'invalid_argument', 'passphrase_required', 'not_an_archive', 'truncated', 'wrong_password', 'tampered', 'malformed_archive', 'invalid_kdf_params'],
})

export const identityDevices = contract({
  actor: A,
  verb: 'devices',
  request: z.object({}).strict().optional(),
  reply: z.object({ devices: z.array(DeviceInfoSchema), revoked: z.array(IdSchema), deviceList: DeviceListWireSchema, revocations: RevocationsWireSchema }),
  callers: ['*'],
  description: 'the signed device list and revocations (public data)',
  errors: ['no_account'],
})

export const identityRevokeDevice = contract({
  actor: A,
  verb: 'revokeDevice',
  request: z.object({ deviceId: IdSchema }).strict(),
  reply: z.object({ revoked: IdSchema, revocations: RevocationsWireSchema, deviceList: DeviceListWireSchema }),
  callers: USER,
  description: 'revoke another device of the account',
  errors: ['no_account', 'invalid_argument', 'unknown_device', 'own_device', 'already_revoked', 'too_many_revocations'],
})

export const identityCertifyDevice = contract({
  actor: A,
  verb: 'certifyDevice',
  request: z.object({ deviceKey: KeySchema, name: deviceName }).strict(),
  reply: z.object({ deviceCert: DeviceCertWireSchema, deviceList: DeviceListWireSchema }),
  callers: USER,
  description: 'certify a new device key for the account (device linking)',
  errors: ['no_account', 'invalid_argument', 'already_revoked', 'device_revoked', 'too_many_devices'],
})

export const identityPeerBinding = contract({
  actor: A,
  verb: 'peerBinding',
  request: z.object({ peerId: z.string().min(1).max(128), ttlMs: z.number().int().positive().max(90 * 86_400_000).optional() }).strict(),
  reply: z.object({ deviceCert: DeviceCertWireSchema, peerBinding: PeerBindingWireSchema, revocations: RevocationsWireSchema }),
  callers: ['transport', 'discovery', 'cli'],
  description: "bind a libp2p PeerId to this device, with the chain a peer needs to verify it",
  errors: ['no_account', 'invalid_argument'],
})

export const identitySignPresence = contract({
  actor: A,
  verb: 'signPresence',
  request: z.object({ peerId: z.string().min(1).max(128), addrs: z.array(z.string().max(512)).max(32), ttlMs: z.number().int().positive().max(86_400_000).optional() }).strict(),
  reply: z.object({ presence: PresenceWireSchema, deviceCert: DeviceCertWireSchema, peerBinding: PeerBindingWireSchema, revocations: RevocationsWireSchema }),
  callers: ['discovery'],
  description: "this device's presence record (addresses), signed by the device key, with its chain",
  errors: ['no_account', 'invalid_argument', 'forbidden_signing'],
})

export const identitySignNameClaim = contract({
  actor: A,
  verb: 'signNameClaim',
  request: z.object({ name: z.string().min(1).max(64), owner: EthAddressSchema, chainId: z.string().regex(/^\d{1,30}$/), registry: EthAddressSchema }).strict(),
  reply: z.object({ signature: z.string(), accountId: IdSchema, accountKey: KeySchema }),
  callers: ['naming'],
  description: 'the account key signs a username claim (name, owner, chain, registry)',
  errors: ['no_account', 'invalid_argument', 'forbidden_signing'],
})

/** An unsigned Ethereum transaction; bigints travel as decimal strings. */
export const EthTxSchema = z
  .object({
    to: EthAddressSchema.nullable().optional(),
    data: z.string().regex(/^0x[0-9a-fA-F]*$/).max(200_000).optional(),
    value: z.string().regex(/^\d+$/).optional(),
    nonce: z.number().int().nonnegative(),
    gasLimit: z.string().regex(/^\d+$/),
    chainId: z.string().regex(/^\d+$/),
    type: z.number().int().min(0).max(2).optional(),
    gasPrice: z.string().regex(/^\d+$/).optional(),
    maxFeePerGas: z.string().regex(/^\d+$/).optional(),
    maxPriorityFeePerGas: z.string().regex(/^\d+$/).optional(),
  })
  .strict()
export type EthTx = z.infer<typeof EthTxSchema>

export const identityEthSignTransaction = contract({
  actor: A,
  verb: 'ethSignTransaction',
  request: z.object({ tx: EthTxSchema }).strict(),
  reply: z.object({ signed: z.string().regex(/^0x[0-9a-fA-F]+$/), from: EthAddressSchema }),
  callers: ['naming'],
  description: "sign an Ethereum transaction with the account's Ethereum key (name registration)",
  errors: ['no_account'],
})

export const identityEthSignMessage = contract({
  actor: A,
  verb: 'ethSignMessage',
  request: z.object({ message: z.string().max(4096) }).strict(),
  reply: z.object({ signature: z.string(), from: EthAddressSchema }),
  callers: ['naming'],
  description: 'EIP-191 personal_sign with the Ethereum key',
  errors: ['no_account'],
})

export const identityVerifyChain = contract({
  actor: A,
  verb: 'verifyChain',
  request: z
    .object({
      deviceCert: DeviceCertWireSchema,
      peerBinding: PeerBindingWireSchema.optional(),
      revocations: RevocationsWireSchema.optional(),
      expect: z.object({ accountId: IdSchema.optional(), deviceId: IdSchema.optional(), peerId: z.string().max(128).optional() }).strict().optional(),
    })
    .strict(),
  reply: z.object({ accountId: IdSchema, accountKey: KeySchema, deviceId: IdSchema, deviceKey: KeySchema, deviceName: z.string(), peerId: z.string().optional() }),
  callers: ['*'],
  description: 'verify an account → device → peer chain from public data (errors: bad_signature, revoked, expired…)',
  errors: ['malformed', 'unknown_type', 'bad_signature', 'wrong_signer', 'expired', 'not_yet_valid', 'revoked', 'replayed'],
})

/** A device-linking PIN as typed ("XXXX-XXXX"; case, dashes and spaces do not matter). */
const pin = z.string().min(1).max(64)

export const identityLinkOffer = contract({
  actor: A,
  verb: 'linkOffer',
  request: z.object({ ttlMs: z.number().int().min(1000).max(600_000).optional() }).strict(),
  reply: z.object({
    pin: z.string(),
    /** the DHT opaque-value id where the offer goes */
    key: z.string().regex(/^[0-9a-f]{40}$/),
    /** the sealed account (base64) */
    value: Base64Schema,
    /** base64url; lets the holder delete the offer */
    deleteToken: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/),
    expiresAt: z.number().int(),
  }),
  callers: USER,
  description: 'device linking, old device: the account sealed under a fresh PIN (memory-hard KDF), for discovery.putValue',
  errors: ['no_account', 'invalid_argument', 'invalid_pin', 'link_too_large'],
})

export const identityLinkLocate = contract({
  actor: A,
  verb: 'linkLocate',
  request: z.object({ pin }).strict(),
  reply: z.object({ key: z.string().regex(/^[0-9a-f]{40}$/), deleteToken: z.string().regex(/^[A-Za-z0-9_-]{16,128}$/) }),
  callers: USER,
  description: 'device linking, new device: where the offer of a PIN lives and its delete token (errors: invalid_pin)',
  errors: ['invalid_pin'],
})

export const identityLinkAccept = contract({
  actor: A,
  verb: 'linkAccept',
  request: z.object({ pin, value: Base64Schema.max(64 * 1024), deviceName: deviceName.optional() }).strict(),
  reply: AccountSummarySchema,
  callers: USER,
  description: 'device linking, new device: open the offer and become a new device of the account (errors: wrong_pin, link_expired, account_exists)',
  errors: ['account_exists', 'invalid_argument', 'passphrase_required', 'invalid_pin', 'wrong_pin', 'link_expired', 'malformed_link', 'link_too_large', 'not_an_archive', 'truncated', 'wrong_password', 'tampered', 'malformed_archive', 'invalid_kdf_params'],
})

export const ContactSchema = z.object({ accountId: IdSchema, name: z.string().max(128).optional(), addedAt: z.number().int() })
export const identityContacts = contract({
  actor: A,
  verb: 'contacts',
  request: z.object({}).strict().optional(),
  reply: z.object({ contacts: z.array(ContactSchema) }),
  callers: ['cli', 'ui', 'outbox'],
  description: 'the contacts kept with the account',
})
export const identityAddContact = contract({
  actor: A,
  verb: 'addContact',
  request: z.object({ accountId: IdSchema, name: z.string().max(128).optional() }).strict(),
  reply: ContactSchema,
  callers: USER,
  description: 'add or rename a contact',
  errors: ['no_account', 'invalid_argument'],
})
export const identityRemoveContact = contract({
  actor: A,
  verb: 'removeContact',
  request: z.object({ accountId: IdSchema }).strict(),
  reply: z.object({ removed: z.boolean() }),
  callers: USER,
  description: 'remove a contact',
  errors: ['no_account', 'invalid_argument'],
})

export const identityAccountCreated = event({
  actor: A,
  event: 'accountCreated',
  body: z.object({ accountId: IdSchema, deviceId: IdSchema, imported: z.boolean() }),
  readers: ['discovery', 'outbox', 'transport', 'cli', 'ui'],
  description: 'the node now holds an account (created or imported)',
})
export const identityDeviceAdded = event({
  actor: A,
  event: 'deviceAdded',
  body: z.object({ accountId: IdSchema, deviceId: IdSchema, name: z.string() }),
  readers: ['discovery', 'outbox'],
  description: 'a device was certified for the account',
})
export const identityDeviceRevoked = event({
  actor: A,
  event: 'deviceRevoked',
  body: z.object({ accountId: IdSchema, deviceId: IdSchema, revocations: RevocationsWireSchema }),
  readers: ['discovery', 'outbox', 'transport', 'ui'],
  description: 'a device was revoked',
})

export const identityDevicesChanged = event({
  actor: A,
  event: 'devicesChanged',
  body: z.object({
    accountId: IdSchema,
    /** seq of the device list and of the revocations now held */
    seq: z.number().int(),
    revocationsSeq: z.number().int(),
    reason: z.enum(['created', 'imported', 'linked', 'certified', 'revoked', 'merged', 'renewed']),
  }),
  readers: ['discovery', 'ui'],
  description: "the account's device list or revocations changed (publish them again)",
})

export const identityContracts = [
  identityStatus,
  identityCreate,
  identityExportArchive,
  identityImportArchive,
  identityDevices,
  identityRevokeDevice,
  identityCertifyDevice,
  identityPeerBinding,
  identityVerifyChain,
  identitySignPresence,
  identitySignNameClaim,
  identityEthSignTransaction,
  identityEthSignMessage,
  identityContacts,
  identityAddContact,
  identityRemoveContact,
  identityLinkOffer,
  identityLinkLocate,
  identityLinkAccept,
  ...identityEnvelopeContracts,
  ...identityBlockContracts,
  ...identityNameContracts,
] as const
