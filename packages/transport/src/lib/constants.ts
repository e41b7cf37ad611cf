/** Defaults of the transport library. */

/** The libp2p protocol id of Baran's authenticated message protocol. */
export const PROTOCOL = '/baran/msg/1.0.0'

/** Largest frame (type byte + fields, without the length prefix) a session accepts or sends. */
export const DEFAULT_MAX_FRAME_BYTES = 256 * 1024

/** A session with no frame received for this long (and no handler running) is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000

/** The remote must send a valid HELLO within this time of the stream opening. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000

/** send() gives up after this long (dial + handshake + ACK). */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000

/** Envelope ids are UTF-8 strings of 1..64 bytes. */
export const MAX_ID_BYTES = 64

/** CLOSE and rejected-ACK reasons are cut to this many bytes of UTF-8. */
export const MAX_REASON_BYTES = 512

/** Each record inside a HELLO is at most this many bytes (matches @baran/trust's decodeRecord default). */
export const MAX_RECORD_BYTES = 64 * 1024

/** Envelope handlers running at once per stream; past this the stream is paused (back-pressure). */
export const DEFAULT_MAX_IN_FLIGHT = 64

/** After sending CLOSE, wait this long for the remote to close its side before resetting the stream. */
export const CLOSE_GRACE_MS = 1_000

/** The library's default listen addresses (createTransportHost): loopback only, TCP and WebSockets on random ports. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] as const

/**
 * Where the transport actor of a node listens unless configured: every interface, IPv4 and IPv6, TCP and WebSockets,
 * so that machines on the LAN can reach it (ports kept in the data dir; only usable addresses are announced).
 */
export const NODE_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/0', '/ip4/0.0.0.0/tcp/0/ws', '/ip6/::/tcp/0/ws'] as const

/**
 * Local networks and tests dial one host from many nodes on the same IP; libp2p's default of 5
 * inbound connections per second per host would reset them.
 */
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 1_000

/** Connection manager cap on open connections. */
export const DEFAULT_MAX_CONNECTIONS = 300

/**
 * Yamux's largest per-stream receive window. A paused stream (back-pressure) buffers at most one
 * window, which must stay under libp2p's 4 MiB read-buffer limit, past which it resets the stream
 * (yamux's own default of 16 MiB would).
 */
export const YAMUX_MAX_STREAM_WINDOW = 2 * 1024 * 1024

/** Inbound streams of one peer still waiting for its HELLO; past this its new streams are refused at once. */
export const DEFAULT_MAX_UNVERIFIED_STREAMS_PER_PEER = 4

/**
 * Inbound streams of all peers still waiting for a HELLO. Together with the frame limit this bounds what peers
 * that proved nothing can make the host hold (64 × 256 KiB of partial frame at most).
 */
export const DEFAULT_MAX_UNVERIFIED_STREAMS = 64

/** Verified streams with one peer (an honest one needs one or two); past this its new streams are refused. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 16

/** Revocations learnt from other peers' HELLOs that are kept (oldest dropped first). */
export const DEFAULT_MAX_LEARNED_REVOCATIONS = 4096

/**
 * An envelope (or another device's history sync request) that arrives while the outbox is not up (the node is
 * starting: transport and presence come first) waits this long for it, asking every `everyMs`, before the sender is
 * told to retry. Well inside a sender's send deadline.
 */
export const OUTBOX_WAIT = { waitMs: 5_000, everyMs: 100 } as const
