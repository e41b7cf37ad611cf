/**
 * @baran/identity — the library behind the identity actor, the only process that holds private keys.
 *
 * An account is an Ed25519 key (its ID is idFromPublicKey of it, as in @baran/trust) plus an
 * Ethereum key for name registration. Each device has its own Ed25519 key, certified by the account
 * ('device-cert'); a device binds its libp2p PeerId with a 'peer-binding'. The account signs a
 * 'device-list' and a 'revocations' record whose seq grows with every change.
 *
 * `SealedKeyring` keeps all of it in one file in its directory (0700 dir, 0600 file, atomic
 * replace, optionally sealed with a passphrase) and exports/imports password-encrypted archives
 * ("BARANARC": scrypt → XSalsa20-Poly1305, brotli, canonical JSON).
 *
 * Device linking: `sealLinkOffer` seals the account under a fresh PIN (scrypt of the PIN gives the
 * secretbox key, the DHT location and a delete token); the new device's `importLinkOffer` opens it
 * and becomes a new device of the account. Each device may then change the device list: `mergeDeviceList`
 * merges what another device published (union of devices minus revoked, union of revocations; seq =
 * max(seen) + 1 when it must sign a new list).
 *
 * @example
 * const store = new SealedKeyring({ dir: `${dataDir}/identity` })
 * await store.load()
 * if (!store.hasAccount()) await store.createAccount({ deviceName: 'laptop' })
 * const binding = store.issuePeerBinding(peerId.toString())
 * verifyChain({ deviceCert: store.info().deviceCert, peerBinding: binding })
 */
export type { NewDevice, SignContext } from './lib/account.ts'
export { newAccountPayload, normalizeDeviceName, refreshed, signDeviceCert, withDevice, withEncryptionKey, withRevoked } from './lib/account.ts'
export type { AccountPayload, Contact, ConversationName, JsonObject } from './lib/archive.ts'
export { accountPayloadSchema, archiveKdf, decodeArchive, encodeArchive, validateAccountPayload } from './lib/archive.ts'
export { compress, decompress } from './lib/compress.ts'
export type { ConversationNameEntry } from './lib/conversation-names.ts'
export { checkConversationName, conversationNamesOf, withConversationName, withoutConversationName } from './lib/conversation-names.ts'
export {
  ACCOUNT_DETACHED_DOMAINS,
  ARCHIVE_MAGIC,
  CONTAINER_VERSION,
  DEFAULT_ACCOUNT_RECORD_TTL_MS,
  DEFAULT_DEVICE_CERT_TTL_MS,
  DEFAULT_LINK_TTL_MS,
  DEFAULT_PEER_BINDING_TTL_MS,
  DEFAULT_RECORD_TTL_MS,
  DEFAULT_REFRESH_WINDOW_MS,
  DEFAULT_SCRYPT,
  LINK_SCRYPT,
  MAX_CONTACTS,
  MAX_CONVERSATION_NAME,
  MAX_CONVERSATION_NAMES,
  MAX_DEVICES,
  MAX_LINK_TTL_MS,
  MAX_LINK_VALUE_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_REVOCATIONS,
  PIN_ALPHABET,
  PIN_LENGTH,
  RESERVED_RECORD_TYPES,
  SCRYPT_LIMITS,
  SEALED_STORE_MAGIC,
  STORE_FILE,
} from './lib/constants.ts'
export type { ContainerHeader, ContainerKdf, ParsedContainer, SealingKeys } from './lib/container.ts'
export {
  decodeContainer,
  encodeContainer,
  hasMagic,
  keysFor,
  newSealingKeys,
  openContainer,
  parseContainer,
  sealContainer,
} from './lib/container.ts'
export type { IdentityErrorCode } from './lib/errors.ts'
export {
  AccountExistsError,
  AlreadyRevokedError,
  BadRecipientError,
  CorruptStoreError,
  DeviceRevokedError,
  ForbiddenSigningError,
  IdentityError,
  InvalidArgumentError,
  InvalidKdfParamsError,
  InvalidPinError,
  LinkExpiredError,
  LinkTooLargeError,
  MalformedArchiveError,
  MalformedLinkError,
  NoAccountError,
  NotAnArchiveError,
  OwnDeviceError,
  PassphraseRequiredError,
  StoreNotLoadedError,
  StoreNotSealedError,
  TamperedArchiveError,
  TooManyDevicesError,
  TooManyRevocationsError,
  TruncatedArchiveError,
  UnknownDeviceError,
  UnsupportedArchiveVersionError,
  UntrustedDeviceListError,
  WrongPasswordError,
  WrongPinError,
} from './lib/errors.ts'
export type { OpenOptions } from './lib/envelopes.ts'
export { EnvelopeService } from './lib/envelopes.ts'
export { ensurePrivateDir, readFileIfExists, writeFileAtomic } from './lib/fs.ts'
export type { DerivedKeys, ScryptParams } from './lib/kdf.ts'
export { deriveKeys, validateScryptParams } from './lib/kdf.ts'
export type { LinkKdf, LinkKeys, SealedLink } from './lib/link.ts'
export { deriveLinkKeys, generatePin, normalizePin, openWithPin, scryptKdf, sealForPin } from './lib/link.ts'
export type { LinkOffer } from './lib/link-offer.ts'
export { checkLinkTtl, openLinkOffer, sealLinkOffer } from './lib/link-offer.ts'
export type { ReplayWindowInit } from './lib/replay-window.ts'
export { DEFAULT_REPLAY_CAPACITY, DEFAULT_REPLAY_MAX_AGE_MS, REPLAY_FILE, ReplayWindow } from './lib/replay-window.ts'
export type { AccountInfo, DeviceInfo, SealedKeyringInit, Logger, RecordRequest } from './lib/store.ts'
export { SealedKeyring } from './lib/store.ts'
/** @deprecated The old name of SealedKeyring (what it holds: the account's keys, sealed in one file). */
export { SealedKeyring as IdentityStore } from './lib/store.ts'
/** @deprecated The old name of SealedKeyringInit. */
export type { SealedKeyringInit as IdentityStoreInit } from './lib/store.ts'
export type { StoreContent } from './lib/store-file.ts'
export { decodeStoreFile, encodeStoreFile, isSealedStoreFile } from './lib/store-file.ts'
export type { MergeOutcome, RemoteDeviceList } from './lib/sync.ts'
export { mergeDeviceLists, verifyRemoteDeviceList } from './lib/sync.ts'
export { identityActor, identityActor as actor } from './actor.ts'
export { type MailboxDeleteRequest, type MailboxFetchRequest, signMailboxDelete, signMailboxFetch } from './lib/mailbox-delete.ts'
