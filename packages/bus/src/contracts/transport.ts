import { z } from 'zod'
import { contract, event } from '../lib/contract.ts'
import { Base64Schema, IdSchema, MultiaddrSchema } from './common.ts'
import { transportSyncRequest } from './history-sync.ts'

/** The transport actor: the libp2p host (direct, relayed, hole-punched) and the `/baran/msg/1.0.0` protocol. */
const A = 'transport'
export const ConnectionKindSchema = z.enum(['direct', 'relayed'])
export const ConnectionPathSchema = z.enum(['tcp', 'ws', 'webrtc', 'circuit'])

/** A UPnP port mapping (transport lib/upnp.ts UpnpStatus). */
export const UpnpStatusSchema = z.object({
  state: z.enum(['idle', 'searching', 'no-gateway', 'unusable', 'mapped', 'failed', 'stopped']),
  reason: z.string().optional(),
  gateway: z.string().optional(),
  internalAddr: z.string().optional(),
  externalAddr: z.string().optional(),
  leaseSeconds: z.number().optional(),
  mappedAt: z.number().optional(),
  verified: z.boolean().optional(),
  recheckedAt: z.number().optional(),
  lastCheck: z.object({ outcome: z.enum(['reached', 'refuted', 'unknown']), at: z.number() }).optional(),
  remapped: z.number().int().nonnegative().optional(),
})

export const transportInfo = contract({
  actor: A,
  verb: 'info',
  request: z.object({}).strict().optional(),
  reply: z.object({
    peerId: z.string(),
    addrs: z.array(MultiaddrSchema),
    relayAddrs: z.array(MultiaddrSchema),
    connections: z.array(
      z.object({
        peerId: z.string(),
        kind: ConnectionKindSchema,
        upgraded: z.boolean(),
        remoteAddr: z.string(),
        /** What it runs over: tcp, ws, webrtc (ICE over UDP, direct) or circuit (a relay). */
        path: ConnectionPathSchema.optional(),
      }),
    ),
    /** The ICE servers WebRTC uses (the relays' STUN servers): empty means no hole punching through NATs. */
    iceServers: z.array(z.string()).optional(),
    /** Whether peers outside this node's networks can reach it (a public address or a public relay), and why not. */
    reachability: z
      .object({
        fromOutside: z.boolean(),
        publicAddrs: z.array(z.string()),
        relays: z.array(z.object({ relay: z.string(), reserved: z.boolean() })),
        why: z.array(z.string()),
      })
      .optional(),
    /** What UPnP did: the port mapping on the LAN's gateway, or why there is none; absent when UPnP is off. */
    upnp: UpnpStatusSchema.optional(),
  }),
  callers: ['*'],
  description: 'PeerId, listen and relay addresses, open connections',
})

export const transportSend = contract({
  actor: A,
  verb: 'send',
  request: z
    .object({
      peerId: z.string().min(1).max(128),
      addrs: z.array(MultiaddrSchema).max(64),
      id: z.string().min(1).max(64),
      payload: Base64Schema.max(350_000),
      timeoutMs: z.number().int().positive().max(120_000).optional(),
      /** the receiver must be this account's device (a PeerId bound to another one is refused) */
      accountId: IdSchema.optional(),
      deviceId: IdSchema.optional(),
    })
    .strict(),
  reply: z.object({ status: z.enum(['stored', 'duplicate']), rttMs: z.number(), connection: ConnectionKindSchema }),
  callers: ['outbox'],
  description: 'deliver an envelope to a device; resolves only once the remote node acked it (persisted there)',
  errors: ['unreachable', 'handshake_failed', 'revoked', 'rejected', 'aborted', 'no_credentials', 'invalid_envelope', 'malformed_frame', 'frame_too_large', 'unknown_frame_type', 'invalid_argument', 'stopped'],
})

export const transportConnection = event({
  actor: A,
  event: 'connection',
  body: z.object({
    peerId: z.string(),
    kind: z.enum(['direct', 'relayed', 'upgraded']),
    state: z.enum(['open', 'closed']),
    accountId: IdSchema.optional(),
    deviceId: IdSchema.optional(),
    at: z.number().int(),
  }),
  // outbox: a connection to another device of this account starts a history sync with it
  readers: ['ui', 'outbox'],
  description: 'a connection opened or closed (direct, relayed, upgraded to direct by hole punching)',
})

export const transportAddresses = event({
  actor: A,
  event: 'addresses',
  body: z.object({ peerId: z.string(), addrs: z.array(MultiaddrSchema), at: z.number().int() }),
  readers: ['discovery'],
  description: 'the addresses this node can be reached at changed (discovery republishes presence)',
})

export const transportRevoked = event({
  actor: A,
  event: 'revoked',
  body: z.object({
    accountId: IdSchema,
    deviceId: IdSchema,
    /** message streams closed (CLOSE revoked) */
    streams: z.number().int().nonnegative(),
    peerIds: z.array(z.string()),
    at: z.number().int(),
  }),
  readers: ['ui'],
  description: 'a device revoked by its account after its handshake: its open message streams were closed; it is refused from now on',
})

export const transportContracts = [transportInfo, transportSend, transportSyncRequest] as const
