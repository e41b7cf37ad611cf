/** Shapes of the replies and events the page uses (the gateway validated them against the bus contracts). */
export type DeliveryState = 'queued' | 'sending' | 'delivered' | 'expired' | 'rejected'
export interface DeviceDelivery {
  deviceId: string
  state: DeliveryState
  attempts: number
  sync: boolean
  deliveredAt?: number
  readAt?: number
  lastError?: string
}
export interface Outgoing {
  id: string
  kind?: 'message' | 'receipt'
  to: string
  toName?: string
  preview?: string
  createdAt: number
  expiresAt: number
  expiredAt?: number
  devices: DeviceDelivery[]
}
export interface InboxMessage {
  id: string
  from: string
  fromDevice: string
  body: string
  sentAt: number
  receivedAt: number
  read: boolean
  sync: boolean
  to: string
}
/** A message of `outbox.history` (the account's kept history, both directions). */
export interface HistoryMessage {
  id: string
  direction: 'in' | 'out'
  from: string
  to: string
  body: string
  sentAt: number
  state: 'received' | 'read' | 'queued' | 'delivered' | 'expired' | 'rejected'
  read: boolean
}
export interface DeviceInfo {
  deviceId: string
  name: string
  current: boolean
}
export interface Account {
  accountId: string
  deviceId: string
  deviceName: string
  ethAddress: string
  devices: DeviceInfo[]
  revoked: string[]
}
export interface Contact {
  accountId: string
  name?: string
  addedAt: number
}
export interface ActorStatus {
  state: string
  pid: number | null
  uptime: number
  restarts: number
  implementation: string
  /** The shared process the actor runs in as a thread (pid is that process's). */
  process?: string
}
export interface NodeStatus {
  node: string
  state: string
  uptime: number
  actors: Record<string, ActorStatus>
}
export interface Transition {
  state: string
  previous: string | null
  at: number
  reason?: string
}
export interface DhtInfo {
  peerId: string
  peers: number
  routingTableSize: number
  storedRecords: number
}
export interface TransportInfo {
  peerId: string
  addrs: string[]
  connections: Array<{ peerId: string; kind: string; upgraded: boolean; remoteAddr: string }>
}
/** A conversation started by an account that is not a contact (outbox.requests). */
export interface ContactRequest {
  accountId: string
  messages: number
  newest: { id: string; preview: string; sentAt: number }
}
