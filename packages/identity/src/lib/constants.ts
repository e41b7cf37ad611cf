/** Defaults and limits of the identity library. */

const DAY_MS = 24 * 60 * 60 * 1000

/** A device certificate is valid this long by default. */
export const DEFAULT_DEVICE_CERT_TTL_MS = 365 * DAY_MS
/** A peer binding is valid this long by default. */
export const DEFAULT_PEER_BINDING_TTL_MS = 30 * DAY_MS
/** Device-list and revocation records are re-signed with this validity. */
export const DEFAULT_ACCOUNT_RECORD_TTL_MS = 365 * DAY_MS
/** Generic records (e.g. presence) signed through `signRecord` without a ttl. */
export const DEFAULT_RECORD_TTL_MS = 60 * 60 * 1000
/** `refresh()` re-signs this node's own records that expire within this window. */
export const DEFAULT_REFRESH_WINDOW_MS = 30 * DAY_MS

/**
 * Default scrypt cost. Measured on this project's 2-core machine (Node 22): N=2^17 ≈ 0.27 s,
 * N=2^18 ≈ 0.55 s (256 MiB), so 2^18 meets the ~0.5 s target. See bench/archive.bench.ts.
 */
export const DEFAULT_SCRYPT = { N: 2 ** 18, r: 8, p: 1 } as const
/** Bounds on scrypt parameters read from a container: refuse too weak, and refuse memory/CPU bombs. */
export const SCRYPT_LIMITS = {
  minN: 2 ** 10,
  maxN: 2 ** 20,
  maxR: 32,
  maxP: 16,
  /** 128·N·r·p bytes of scrypt memory at most (2× the default: an archive must not OOM a small device). */
  maxMemBytes: 512 * 1024 * 1024,
} as const
export const SALT_BYTES = 16

/** Container magic of a password-encrypted account archive. */
export const ARCHIVE_MAGIC = 'BARANARC'
/** Container magic of a passphrase-sealed key store file (same format, different magic). */
export const SEALED_STORE_MAGIC = 'BARANKEY'
export const CONTAINER_VERSION = 1
/** Largest decompressed payload accepted (a decompression-bomb guard). */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
/** Largest ciphertext accepted. */
export const MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024

/** Name of the key store file inside the store directory. */
export const STORE_FILE = 'identity.store'
/** Device names are 1..64 characters (the device-cert schema of @baran/trust). */
export const MAX_DEVICE_NAME = 64
export const MAX_CONTACT_NAME = 128
export const MAX_CONTACTS = 10_000
/** Most blocked accounts an account keeps (the list travels in the archive and link offers). */
export const MAX_BLOCKS = 10_000
/** Conversation names the account keeps (one per conversation, synced like contacts), and their length. */
export const MAX_CONVERSATION_NAMES = 10_000
export const MAX_CONVERSATION_NAME = MAX_CONTACT_NAME
/** Removals kept per list as sync tombstones; beyond it the oldest are forgotten. */
export const MAX_TOMBSTONES = 10_000
/** Limits of the device-list and revocations schemas in @baran/trust. */
export const MAX_DEVICES = 64
export const MAX_REVOCATIONS = 1024

/** Record types only the store itself may sign with the account key (through certify/revoke). */
export const RESERVED_RECORD_TYPES: readonly string[] = ['device-cert', 'device-list', 'revocations']
/** Signing-bytes prefix of @baran/trust records: detached signatures over it would forge records. */
export const RECORD_DOMAIN_PREFIX = 'baran.record.v1\0'
/** Message domains the account key signs detached (name claims for the naming actor). */
export const ACCOUNT_DETACHED_DOMAINS: readonly string[] = ['baran.name-claim.v1\0']

/** Device-linking PIN: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), ~40 bits. */
export const PIN_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
export const PIN_LENGTH = 8
/** Fixed scrypt salt of link keys: the PIN is the only secret, the location must be derivable from it alone. */
export const LINK_SALT = 'baran.link.v1'
/**
 * scrypt cost of link keys: 32 MiB and ~0.1 s per guess on one core. Fixed, not configurable: both devices
 * must derive the same location and key from the PIN alone.
 */
export const LINK_SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const
/** Life of a link offer (what the DHT keeps it for), and the longest one may ask for. */
export const DEFAULT_LINK_TTL_MS = 10 * 60 * 1000
export const MAX_LINK_TTL_MS = DEFAULT_LINK_TTL_MS
/** Largest sealed link offer: what a DHT opaque value may carry (16 KiB). */
export const MAX_LINK_VALUE_BYTES = 16 * 1024
/** How far the two devices' clocks may differ when the new device checks an offer's expiry. */
export const LINK_CLOCK_SKEW_MS = 60_000
