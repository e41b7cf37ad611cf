/**
 * @baran/bus — the one place where Baran's contracts live, and the only package that talks to NATS: contracts and
 * the client. The nats-server process itself is started by `@baran/launch`.
 *
 * A contract pairs a subject (`baran.<node>.<actor>.<verb>`) with zod schemas for its request and reply;
 * both ends validate. Errors travel as `{ error: { code, message, details } }` and surface as `BusError`.
 */
export { Bus } from './lib/bus.ts'
export { ActorService, VERSION_HEADER } from './lib/actor-service.ts'
export { KvBucket } from './lib/kv.ts'
export type { KvBucketOptions, KvStreamState, KvValue } from './lib/kv.ts'
export type { BusOptions, BusLogger, BusStatus, RequestOptions, EventMeta, SubscribeOptions } from './lib/bus.ts'
export type { RequestContext, Handler, ServeOptions } from './lib/actor-service.ts'
export { contract, event, canRead } from './lib/contract.ts'
export { eventContracts } from './contracts/events.ts'
export type { RequestContract, EventContract, Caller, RequestOf, ParsedRequestOf, ReplyOf, ReplyInputOf, EventOf, EventInputOf, DomainErrorOf } from './lib/contract.ts'
export { BusError, BusErrorCode, isBusError, toBusError, statusOfCode, isGenericCode, declaresCode, errorCodeOf, onUndeclaredErrorCode } from './lib/errors.ts'
export type { ErrorEnvelope } from './lib/errors.ts'
export { encodeJson, decodeJson, issuesOf } from './lib/codec.ts'
export { SUBJECT_ROOT, requestSubject, eventSubject, actorPrefix, parseSubject, assertToken, InvalidSubjectTokenError } from './lib/subjects.ts'
export {
  LifecycleState,
  LifecycleStateSchema,
  ActorNameSchema,
  StateEventSchema,
  HealthSchema,
  ANY_CALLER,
  stateEventOf,
  healthContractOf,
} from './contracts/lifecycle.ts'
export type { StateEvent, Health } from './contracts/lifecycle.ts'
export { NODE_ACTOR, ActorStatusSchema, NodeStatusSchema, nodeStatus, nodeStop, actorRestarted } from './contracts/node.ts'
export type { ActorStatus, NodeStatus } from './contracts/node.ts'
export { IdSchema, KeySchema, Base64Schema, EthAddressSchema, SignedRecordWireSchema, MultiaddrSchema } from './contracts/common.ts'
export type { SignedRecordWire } from './contracts/common.ts'
export { DeviceCertWireSchema, PeerBindingWireSchema, RevocationsWireSchema, DeviceListWireSchema, PresenceWireSchema } from './contracts/common.ts'
export type { DeviceCertWire, PeerBindingWire, RevocationsWire, DeviceListWire, PresenceWire } from './contracts/common.ts'
export {
  DeviceInfoSchema,
  AccountSummarySchema,
  ContactSchema,
  EthTxSchema,
  identityStatus,
  identityCreate,
  identityExportArchive,
  identityImportArchive,
  MAX_ARCHIVE_BYTES,
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
  identityAccountCreated,
  identityDeviceAdded,
  identityDeviceRevoked,
  identityDevicesChanged,
  identityLinkOffer,
  identityLinkLocate,
  identityLinkAccept,
  identityContracts,
} from './contracts/identity.ts'
export type { AccountSummary, EthTx } from './contracts/identity.ts'
export {
  ENVELOPE_MAX_BYTES,
  ENVELOPE_MAX_RECIPIENTS,
  EnvelopeIdSchema,
  EnvelopeRefusalCode,
  EnvelopeSenderSchema,
  identityEnvelopeContracts,
  identityOpen,
  identitySeal,
  identitySignMailboxDelete,
  identitySignMailboxFetch,
  SealErrorCode,
} from './contracts/identity-envelopes.ts'
export {
  BlockSchema,
  identityBlock,
  identityBlockContracts,
  identityBlocks,
  identityAccountState,
  identityMergeAccountState,
  ACCOUNT_STATE_MAX,
  AccountRegisterSchema,
  AccountStateKindSchema,
  identityBlocksChanged,
  identityUnblock,
} from './contracts/identity-blocks.ts'
export type { Block as BlockEntry, AccountRegister, AccountStateKind } from './contracts/identity-blocks.ts'
export {
  ConversationNameSchema,
  identityClearConversationName,
  identityConversationNames,
  identityNameContracts,
  identitySetConversationName,
  MAX_CONVERSATION_NAME,
  MAX_CONVERSATION_NAMES,
} from './contracts/identity-names.ts'
export type { ConversationNameEntry } from './contracts/identity-names.ts'
export {
  DevicePresenceSchema,
  discoveryInfo,
  discoveryPublish,
  discoveryLookup,
  discoveryLookupDevice,
  discoveryLookupDeviceList,
  discoveryWatch,
  discoveryUnwatch,
  discoveryPutValue,
  discoveryGetValue,
  discoveryDeleteValue,
  discoveryOnline,
  discoveryAddressChanged,
  discoveryOffline,
  discoveryPublished,
  discoveryDeviceList,
  discoveryContracts,
} from './contracts/discovery.ts'
export type { DevicePresence } from './contracts/discovery.ts'
export {
  discoveryMailboxContracts,
  discoveryMailboxDelete,
  discoveryMailboxFetch,
  discoveryMailboxPut,
  MailboxIdSchema,
  MailboxItemHashSchema,
  MailboxItemSchema,
} from './contracts/discovery-mailbox.ts'
export { ConnectionKindSchema, transportInfo, transportSend, transportConnection, transportAddresses, transportContracts } from './contracts/transport.ts'
export { transportRevoked } from './contracts/transport.ts'
export {
  SYNC_MAX_ANSWER_BYTES,
  SYNC_MAX_IDS,
  SYNC_MAX_LIST,
  SyncAnswerSchema,
  SyncEntrySchema,
  SyncRequestSchema,
  outboxHistorySummary,
  outboxSyncServe,
  transportSyncRequest,
} from './contracts/history-sync.ts'
export type { SyncAnswer, SyncEntry, SyncRequest } from './contracts/history-sync.ts'
export {
  DeliveryStateSchema,
  DeviceDeliverySchema,
  OutgoingSchema,
  InboxMessageSchema,
  MAX_BODY_BYTES,
  IdempotencyKeySchema,
  outboxSend,
  outboxPending,
  outboxStatus,
  outboxReceive,
  outboxInbox,
  outboxMarkRead,
  outboxHistory,
  HistoryMessageSchema,
  outboxRequests,
  outboxDeclineRequest,
  ContactRequestSchema,
  outboxDelivery,
  outboxReceived,
  outboxReceipt,
  outboxContracts,
} from './contracts/outbox.ts'
export type { ContactRequest, DeliveryState, Outgoing, InboxMessage, HistoryMessage } from './contracts/outbox.ts'
export {
  NameRecordSchema,
  RegistrationPhaseSchema,
  namingRegister,
  namingLookup,
  namingReverse,
  namingInfo,
  namingRegistration,
  namingRegistered,
  namingContracts,
} from './contracts/naming.ts'
export type { NameRecordReply, RegistrationPhase } from './contracts/naming.ts'
