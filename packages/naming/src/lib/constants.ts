/** Defaults of the naming library, in one place. */

/** Blocks after its commit within which a commitment can be revealed (deployments on the devnet). */
export const DEFAULT_MAX_COMMIT_AGE = 256

/** Bound on each JSON-RPC read, so that a dead chain fails fast instead of hanging. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000

/** Bound on waiting for a transaction to be mined. */
export const DEFAULT_TX_TIMEOUT_MS = 120_000

/** How often the client looks for a new block while it waits between commit and reveal. */
export const DEFAULT_BLOCK_POLL_MS = 50

/** Names a reverse lookup reads for one account ID before it gives up. */
export const MAX_REVERSE_NAMES = 16

/** CachedResolver defaults. */
export const DEFAULT_CACHE_TTL_MS = 60_000
export const DEFAULT_NEGATIVE_TTL_MS = 5_000
export const DEFAULT_CACHE_MAX = 10_000

/** Name server defaults. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 120
export const DEFAULT_MAX_BODY_BYTES = 4096
/** Sponsored claims (the server pays their gas) per claiming key and per client network, per window. */
export const DEFAULT_CLAIMS_PER_KEY = 5
export const DEFAULT_CLAIMS_PER_PREFIX = 20
export const DEFAULT_CLAIM_WINDOW_MS = 3_600_000
/** Clients tracked by the rate limiter before the least recently seen are forgotten. */
export const RATE_LIMIT_MAX_CLIENTS = 10_000
/** Whole-request deadline of the name server (a registration waits for two blocks). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000

/** anvil's well-known development mnemonic (its default); every devnet derives the same accounts. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'
export const DEVNET_ACCOUNTS = 10
/** Bound on the dev chain's start-up (binary start, listening line, first RPC answer). */
export const DEVNET_START_TIMEOUT_MS = 15_000
export const DEVNET_STOP_TIMEOUT_MS = 5_000
/** How often a dev chain with a state file writes it (a killed anvil loses at most this much). */
export const DEVNET_STATE_INTERVAL_SEC = 2

/** The naming actor's chain health loop: one getBlockNumber per interval, each bounded by the timeout. */
export const DEFAULT_CHAIN_CHECK_MS = 1_000
export const DEFAULT_CHAIN_CHECK_TIMEOUT_MS = 1_500
/** The naming actor's bound on each chain read (shorter than the library's: callers wait on the bus). */
export const ACTOR_RPC_TIMEOUT_MS = 5_000

/** Dev-chain faucet: an account below the minimum gets the amount before it registers. */
export const FAUCET_MIN_BALANCE_WEI = 10n ** 16n
export const FAUCET_AMOUNT_WEI = 10n ** 18n
/** Funding attempts when another node funds from the same faucet at the same time (nonce races). */
export const FAUCET_ATTEMPTS = 5

/** The name-server client (naming over HTTP): bound on a lookup, and on a registration (the server waits for two blocks). */
export const DEFAULT_NAME_SERVER_TIMEOUT_MS = 5_000
export const DEFAULT_REGISTER_TIMEOUT_MS = 90_000
