/**
 * @baran/trust — signed records and trust-chain verification.
 *
 * Pure: holds no keys, knows no bus, filesystem or node:crypto (Ed25519 and SHA-512 come from
 * tweetnacl, body schemas from zod), so it also runs in a browser. Records are canonical
 * sorted-key JSON, signed with Ed25519 over a per-type domain-separated prefix. Every failure is
 * a TrustError subclass with a stable `code`.
 *
 * @example
 * const account = keyPairFromSeed(seed)
 * const cert = signRecord({ type: 'device-cert', v: 1, seq: 0, issuedAt, expiresAt, body }, account.secretKey)
 * const chain = verifyChain({ deviceCert: decodeRecord(encodeRecord(cert)) })
 */
export { concatBytes, fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from './lib/bytes.ts'
export { canonicalDecode, canonicalEncode, canonicalString } from './lib/canonical.ts'
export type { VerifiedChain, VerifyChainInput, VerifyDeviceListOptions } from './lib/chain.ts'
export { verifyChain, verifyDeviceList } from './lib/chain.ts'
export {
  DEFAULT_CLOCK_SKEW_MS,
  DEFAULT_MAX_RECORD_BYTES,
  MAX_CANONICAL_DEPTH,
  SEQ_TRACKER_MAX_KEYS,
} from './lib/constants.ts'
export type { KeyPair, NameClaim } from './lib/detached.ts'
export {
  generateKeyPair,
  keyPairFromSeed,
  nameClaimMessage,
  publicKeyOf,
  signDetached,
  verifyDetached,
} from './lib/detached.ts'
export type { TrustErrorCode } from './lib/errors.ts'
export {
  BadSignatureError,
  ExpiredRecordError,
  isTrustError,
  MalformedRecordError,
  NotYetValidError,
  ReplayedRecordError,
  RevokedDeviceError,
  TrustError,
  UnknownRecordTypeError,
  WrongSignerError,
} from './lib/errors.ts'
export { idFromPublicKey, isId } from './lib/ids.ts'
export type { LwwRegister } from './lib/lww.ts'
export { mergeLww } from './lib/lww.ts'
export type {
  EnvelopeRecipientKey,
  EnvelopeSender,
  OpenedEnvelope,
  SealEnvelopeInput,
  VerifiedEnvelope,
  VerifyEnvelopeOptions,
} from './lib/envelope.ts'
export { decryptEnvelope, ENVELOPE_DOMAIN, envelopeRecipientOf, openEnvelope, sealEnvelope, verifyEnvelope } from './lib/envelope.ts'
export { verifyRevocationList } from './lib/chain-cache.ts'
export type { EnvelopeRefusal } from './lib/envelope-errors.ts'
export {
  EnvelopeError,
  EnvelopeSignatureError,
  EnvelopeTooLargeError,
  isEnvelopeError,
  MalformedEnvelopeError,
  NoEncryptionKeyError,
  NotForThisDeviceError,
  ReplayedEnvelopeError,
  RevokedSenderError,
} from './lib/envelope-errors.ts'
export type { DecodedEnvelope, EnvelopeFields, EnvelopeRecipient } from './lib/envelope-format.ts'
export {
  decodeEnvelope,
  ENVELOPE_RECIPIENT_BYTES,
  envelopeBytes,
  ENVELOPE_VERSION,
  isEnvelopeId,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_RECIPIENTS,
  MAX_SENDER_CERT_BYTES,
} from './lib/envelope-format.ts'
export type { X25519Implementation } from './lib/hpke.ts'
export { encryptionKeyPairFromSeed, x25519Implementation } from './lib/hpke.ts'
export type { DecodeRecordOptions, SignedRecord, UnsignedRecord, VerifyRecordOptions } from './lib/record.ts'
export { decodeRecord, encodeRecord, recordSigningBytes, signRecord, verifyRecord } from './lib/record.ts'
export type { SeqTrackerInit } from './lib/seq-tracker.ts'
export { SeqTracker } from './lib/seq-tracker.ts'
export type {
  BodyOf,
  DeviceCertBody,
  DeviceCertV1Body,
  DeviceCertV2Body,
  DeviceListBody,
  PeerBindingBody,
  PresenceBody,
  RecordType,
  RevocationsBody,
  SignerRole,
} from './lib/types.ts'
export { acceptedVersions, bodySchemas, isRecordType, recordTypes, versionedBodySchema } from './lib/types.ts'
export { MAILBOX_EPOCH_MS, mailboxDeleteSigningBytes, mailboxEpoch, mailboxesOf, mailboxFetchSigningBytes, mailboxId } from './lib/mailbox.ts'
