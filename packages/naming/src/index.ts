/**
 * @baran/naming — unique human-readable usernames on an EVM chain.
 *
 * A Solidity registry (contracts/Registry.sol, compiled by scripts/compile-contract.ts) maps
 * names to Baran account IDs with commit–reveal registration; RegistryClient registers names and
 * looks them up, verifying every record against its Ed25519 account key (off-chain: the EVM has
 * no Ed25519 precompile); CachedResolver adds a TTL cache; startNameServer serves Jami's
 * name-server HTTP protocol; startDevnet runs an embedded anvil chain with the registry deployed.
 *
 * @example
 * const devnet = await startDevnet()
 * const client = new RegistryClient({ provider: devnet.provider, registry: devnet.registry,
 *   signer: new Wallet(devnet.accounts[1].privateKey, devnet.provider) })
 * await client.register('alice', { accountId, publicKey, signClaim: async (m) => signDetached(m, secretKey) })
 * const record = await client.lookup('alice') // verified
 *
 * `@baran/naming/http` (httpNamingActor) is the same contract over any Jami-compatible name server
 * (NameServerClient), verifying every record it is given.
 *
 * The naming actor (`actor`) serves these over the bus (naming.register/lookup/reverse/info): it holds no key
 * (BusSigner signs through the identity actor), caches lookups, and is `degraded` while the chain is down.
 */
export { registryAbi, registryBytecode, registrySolcVersion, registrySourceSha256 } from './generated/registry-artifact.ts'
export type { CachedResolverInit, CacheStats, Resolver } from './lib/cached-resolver.ts'
export { CachedResolver } from './lib/cached-resolver.ts'
export type { ChainMonitorInit } from './lib/chain-monitor.ts'
export { ChainMonitor } from './lib/chain-monitor.ts'
export type { EnsureFundsInit } from './lib/faucet.ts'
export { ensureFunds } from './lib/faucet.ts'
export type { BusSignerInit } from './bus-signer.ts'
export { BusSigner } from './bus-signer.ts'
export type { NamingActorConfig } from './actor.ts'
export { namingActor, namingActor as actor } from './actor.ts'
export type { HttpNamingConfig } from './http-actor.ts'
export { httpNamingActor } from './http-actor.ts'
export type { ClaimDomain, NameServerClientInit, SignedClaim } from './lib/name-server-client.ts'
export { NameServerClient, verifyServerRecord } from './lib/name-server-client.ts'
export { isUnavailable, registryErrorName, registryInterface, toNamingError } from './lib/chain-errors.ts'
export {
  DEFAULT_CACHE_MAX,
  DEFAULT_CACHE_TTL_MS,
  DEFAULT_CHAIN_CHECK_MS,
  DEFAULT_CHAIN_CHECK_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_COMMIT_AGE,
  DEFAULT_NAME_SERVER_TIMEOUT_MS,
  DEFAULT_NEGATIVE_TTL_MS,
  DEFAULT_REGISTER_TIMEOUT_MS,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  DEFAULT_RPC_TIMEOUT_MS,
  DEFAULT_TX_TIMEOUT_MS,
  FAUCET_AMOUNT_WEI,
  FAUCET_MIN_BALANCE_WEI,
  MAX_REVERSE_NAMES,
} from './lib/constants.ts'
export type { DevChain, DevnetAccount, DevnetOptions } from './lib/dev-chain.ts'
export { anvilBinaryPath, startDevChain } from './lib/dev-chain.ts'
export type { DeployedRegistry, Devnet } from './lib/devnet.ts'
export { createProvider, deployRegistry, startDevnet } from './lib/devnet.ts'
export type { NamingErrorCode } from './lib/errors.ts'
export {
  ChainUnavailableError,
  CommitExpiredError,
  CommitmentUnknownError,
  DevnetError,
  ForgedRecordError,
  InsufficientFundsError,
  InvalidAccountIdError,
  InvalidClaimError,
  InvalidNameError,
  isNamingError,
  MissingSignerError,
  NameNotFoundError,
  NameServerError,
  NameTakenError,
  NamingError,
  NoAccountError,
  RegistryError,
  SignerError,
} from './lib/errors.ts'
export type { Logger } from './lib/logger.ts'
export type { NameRuleViolation, NameValidation } from './lib/name-rules.ts'
export { describeNameViolation, NAME_RULES, validateName } from './lib/name-rules.ts'
export type { NameServer, NameServerInit } from './lib/name-server.ts'
export { startNameServer } from './lib/name-server.ts'
export { addressPrefix, RateLimiter } from './lib/rate-limiter.ts'
export type {
  NameRecord,
  RegisterOptions,
  RegisterProgress,
  RegisterResult,
  RegistryClientInit,
  SignClaim,
} from './lib/registry-client.ts'
export { assertValidName, computeCommitment, RegistryClient } from './lib/registry-client.ts'
