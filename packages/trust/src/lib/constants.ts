/** Allowed clock difference when checking issuedAt (ms). */
export const DEFAULT_CLOCK_SKEW_MS = 60_000
/** Largest encoded record decodeRecord accepts by default (bytes). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024
/** Deepest nesting of arrays/objects canonicalEncode accepts. */
export const MAX_CANONICAL_DEPTH = 32
/** Keys a SeqTracker remembers before evicting the least recently used. */
export const SEQ_TRACKER_MAX_KEYS = 100_000

/** Domain-separation prefixes: each kind of signed or hashed message has its own. */
export const ID_DOMAIN = 'baran.id.v1\0'
export const RECORD_DOMAIN = 'baran.record.v1\0'
export const NAME_CLAIM_DOMAIN = 'baran.name-claim.v1\0'

export const PUBLIC_KEY_BYTES = 32
export const SECRET_KEY_BYTES = 64
export const SEED_BYTES = 32
export const SIGNATURE_BYTES = 64
