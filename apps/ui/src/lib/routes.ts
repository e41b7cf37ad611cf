import {
  discoveryInfo,
  identityAddContact,
  identityBlock,
  identityBlocks,
  identityContacts,
  identityConversationNames,
  identityCreate,
  identityDevices,
  identityExportArchive,
  identityImportArchive,
  identityRemoveContact,
  identityRevokeDevice,
  identityStatus,
  identityUnblock,
  namingInfo,
  namingLookup,
  namingRegister,
  namingReverse,
  nodeStatus,
  outboxDeclineRequest,
  outboxHistory,
  outboxInbox,
  outboxMarkRead,
  outboxPending,
  outboxRequests,
  outboxSend,
  outboxStatus,
  type RequestContract,
  transportInfo,
} from '@baran/bus'

export interface Route {
  contract: RequestContract
  timeoutMs?: number
}

/**
 * What the page may ask, by `<actor>.<verb>` (POST /api/<actor>.<verb>). Every one is a contract whose callers
 * name `ui` (or everyone), so the bus would refuse anything else anyway; the list keeps the surface explicit.
 */
export const ROUTES: Record<string, Route> = Object.fromEntries(
  (
    [
      [identityStatus],
      [identityCreate],
      [identityDevices],
      [identityRevokeDevice],
      [identityExportArchive, 60_000],
      [identityImportArchive, 60_000],
      [identityContacts],
      [identityAddContact],
      [identityRemoveContact],
      [identityConversationNames],
      [identityBlocks],
      [identityBlock],
      [identityUnblock],
      [namingLookup, 20_000],
      [namingReverse, 20_000],
      [namingInfo],
      [namingRegister, 180_000],
      [outboxSend],
      [outboxPending],
      [outboxStatus],
      [outboxInbox],
      [outboxMarkRead],
      [outboxHistory],
      [outboxRequests],
      [outboxDeclineRequest],
      [nodeStatus],
      [discoveryInfo],
      [transportInfo],
    ] as Array<[RequestContract, number?]>
  ).map(([c, timeoutMs]) => [`${c.actor}.${c.verb}`, { contract: c, ...(timeoutMs ? { timeoutMs } : {}) }]),
)
