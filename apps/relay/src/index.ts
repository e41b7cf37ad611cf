/**
 * @baran/relay — a public helper node for Baran networks.
 *
 * `startRelay()` runs a circuit relay v2 server (TURN's role: nodes behind NATs reserve a slot and are
 * reached through it) with limits sized for Baran's 256 KiB frames, and a Kademlia DHT node in Baran's
 * namespace that new nodes bootstrap from; each has its own libp2p key, kept in the data dir (0600), so the
 * addresses handed to nodes survive restarts. Optionally it also serves Jami's name-server HTTP protocol over
 * a registry chain. It holds no account and talks to no bus. `relayCommand()` is `baran relay` (and
 * `npm run relay`): it prints each full multiaddr on its own line once ready and stops on SIGINT/SIGTERM.
 *
 * @example
 * const relay = await startRelay({ dataDir: '/var/lib/baran-relay', listen: ['/ip4/0.0.0.0/tcp/4001'] })
 * // nodes: { transport: { relays: relay.addrs.relay }, discovery: { bootstrap: relay.addrs.dht } }
 * await relay.stop()
 */
export type { RelayCommandIo, RelayCommandOptions } from './lib/command.ts'
export { defaultRelayDataDir, RelayExit, relayCommand, relayInitFrom } from './lib/command.ts'
export {
  DEFAULT_DATA_LIMIT_BYTES,
  DEFAULT_DURATION_LIMIT_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_RESERVATIONS,
  DHT_KEY_FILE,
  RELAY_INFO_FILE,
  RELAY_KEY_FILE,
  RELAY_LOG_FILE,
} from './lib/constants.ts'
export type { RelayErrorCode } from './lib/errors.ts'
export {
  InvalidRelayOptionError,
  NameServerStartError,
  RelayAlreadyRunningError,
  RelayError,
  RelayKeyError,
  RelayListenError,
} from './lib/errors.ts'
export type { Logger } from './lib/logger.ts'
export {
  defaultDhtListen,
  MAX_DATA_LIMIT_BYTES,
  MAX_DURATION_LIMIT_MS,
  parseByteSize,
  parseDuration,
  parseInteger,
  parseListenAddr,
  parsePeerAddr,
  parsePort,
} from './lib/options.ts'
export type { Relay, RelayInit, RelayNameServerInit, RelayStats } from './lib/relay.ts'
export { startRelay } from './lib/relay.ts'
export type { StunServerInit, StunService } from './lib/stun.ts'
export { startStunServer } from './lib/stun.ts'
