/**
 * @baran/transport — the libp2p host of a Baran node and its authenticated message protocol.
 *
 * `createTransportHost()` starts a libp2p node (TCP + WebSockets, Noise, Yamux, identify, ping,
 * AutoNAT, optional UPnP, circuit relay v2 client/server, DCUtR) that speaks `/baran/msg/1.0.0`:
 * length-prefixed binary frames; the opener sends HELLO (device certificate + peer binding
 * [+ revocations], as @baran/trust records), the acceptor answers with its own only once that
 * verified, and each checks the other's chain against the Noise-authenticated PeerId; then ENVELOPEs flow, each answered by an ACK once the receiver's
 * handler stored it. Credentials are issued by the identity actor; this library only verifies.
 *
 * @example
 * const host = await createTransportHost({ credentials })
 * host.onEnvelope(async (env, from) => { await store(env, from.accountId); return 'stored' })
 * const { status, rtt } = await host.send({ peerId, addrs }, { id: 'msg-1', payload })
 */
export {
  CLOSE_GRACE_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_INBOUND_CONNECTION_THRESHOLD,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_LEARNED_REVOCATIONS,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_MAX_UNVERIFIED_STREAMS,
  DEFAULT_MAX_UNVERIFIED_STREAMS_PER_PEER,
  DEFAULT_SEND_TIMEOUT_MS,
  MAX_ID_BYTES,
  MAX_REASON_BYTES,
  MAX_RECORD_BYTES,
  PROTOCOL,
  YAMUX_MAX_STREAM_WINDOW,
} from './lib/constants.ts'
export type { TransportErrorCode } from './lib/errors.ts'
export {
  AbortedError,
  FrameTooLargeError,
  HandshakeFailedError,
  HostStoppedError,
  InvalidArgumentError,
  InvalidEnvelopeError,
  ListenFailedError,
  MalformedFrameError,
  NoCredentialsError,
  NotOwnDeviceError,
  RejectedError,
  RevokedError,
  SyncRefusedError,
  TimeoutError,
  TransportError,
  UnknownFrameTypeError,
  UnreachableError,
} from './lib/errors.ts'
export type { AckFrame, CloseFrame, EnvelopeFrame, Frame, HelloFrame } from './lib/frames.ts'
export {
  AckStatus,
  CloseCode,
  decodeFrame,
  encodeFrame,
  FrameDecoder,
  FrameType,
  maxPayloadBytes,
} from './lib/frames.ts'
export type { ConnectionEvent, ConnectionKind } from './lib/connection-events.ts'
export { classifyConnection } from './lib/connection-events.ts'
export type { TransportHost, TransportHostInit } from './lib/host.ts'
export { createTransportHost } from './lib/host.ts'
export { generateHostKey, hostKeyFromBytes, hostKeyToBytes, peerIdOf } from './lib/host-keys.ts'
export type { ConnectionLimitsInit, RelayServerOptions } from './lib/libp2p-options.ts'
export { connectionMonitorOf, type KeepAliveInit } from '@baran/p2p'
export type { MappingCheck, UpnpInit, UpnpStatus } from './lib/upnp.ts'
export type { DialBack, DialBackCheck, DialBackInit } from './lib/dial-back.ts'
export { baranDialBack, DIAL_BACK_MIN_INTERVAL_MS, DIAL_BACK_PROTOCOL, DIAL_BACK_TIMEOUT_MS, MAX_CONCURRENT_DIAL_BACKS } from './lib/dial-back.ts'
export type { DialBackFrame } from './lib/dial-back-frames.ts'
export { DIAL_BACK_NONCE_BYTES, DialBackStatus, decodeDialBackFrame, encodeDialBackFrame, MAX_DIAL_BACK_FRAME_BYTES, MalformedDialBackFrameError } from './lib/dial-back-frames.ts'
export { DEFAULT_UPNP_LEASE_MS, DEFAULT_UPNP_RECHECK_MS, DEFAULT_UPNP_SEARCH_INTERVAL_MS, DEFAULT_UPNP_SEARCH_TIMEOUT_MS, mappableAddresses } from './lib/upnp.ts'
export type { ConnectionPath, UpgradeEvent } from './lib/upgrade.ts'
export { DEFAULT_STUN_PORT, parseIceServers, pathOf, stunServersOf, WEBRTC_SIGNALING_PROTOCOL, webrtcAddrOf } from './lib/upgrade.ts'
export type { Logger } from './lib/logger.ts'
export type { Reachability, ReachabilityInput, RelayState } from './lib/reachability.ts'
export { reachabilityOf } from './lib/reachability.ts'
export type { Credentials, IsRevoked } from './lib/handshake.ts'
export type { MessageProtocolInit } from './lib/protocol-options.ts'
export type { RevokedSessions } from './lib/protocol.ts'
export type { Envelope, SendOptions, SendResult, SendTarget } from './lib/send.ts'
export type { AnyEnvelopeHandler, EnvelopeHandler, EnvelopeResult, EnvelopeSender, ImmediateEnvelopeHandler } from './lib/envelope-handler.ts'
export { decodeVarint, encodeVarint } from './lib/varint.ts'
export type { SyncHandler, SyncPeer, SyncTarget } from './lib/sync-channel.ts'
export { MAX_SYNC_SERVES, SYNC_PROTOCOL } from './lib/sync-channel.ts'
export { decodeSyncFrame, encodeSyncRefused, encodeSyncRequest, MAX_SYNC_FRAME_BYTES, SyncRefusal } from './lib/sync-frames.ts'
export type { TransportVariant } from './actor.ts'
export { defineTransportActor, transportActor, transportActor as actor } from './actor.ts'
export { wsTransportActor } from './ws-actor.ts'
export { throwawayCredentials } from './lib/throwaway.ts'
