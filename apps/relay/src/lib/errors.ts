/** Error codes of the relay, stable for scripts and tests. */
export type RelayErrorCode = 'invalid_option' | 'bad_key' | 'listen_failed' | 'name_server_failed' | 'already_running'

/** Base class of the relay's errors. */
export class RelayError extends Error {
  override name = 'RelayError'
  readonly code: RelayErrorCode
  constructor(code: RelayErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** Thrown when an option is missing, malformed or out of range (the message names it). */
export class InvalidRelayOptionError extends RelayError {
  override name = 'InvalidRelayOptionError'
  constructor(message = 'invalid relay option', options?: ErrorOptions) {
    super('invalid_option', message, options)
  }
}

/** Thrown when a key file in the data dir cannot be read or does not hold a libp2p private key. */
export class RelayKeyError extends RelayError {
  override name = 'RelayKeyError'
  constructor(message = 'the relay key file is unreadable', options?: ErrorOptions) {
    super('bad_key', message, options)
  }
}

/** Thrown when the relay or its DHT node cannot listen on the given addresses. */
export class RelayListenError extends RelayError {
  override name = 'RelayListenError'
  constructor(message = 'the relay could not listen', options?: ErrorOptions) {
    super('listen_failed', message, options)
  }
}

/** Thrown when the optional name server cannot start (its chain does not answer, or its port is taken). */
export class NameServerStartError extends RelayError {
  override name = 'NameServerStartError'
  constructor(message = 'the name server could not start', options?: ErrorOptions) {
    super('name_server_failed', message, options)
  }
}

/** Thrown when another relay process already runs on the same data dir (it would share its keys). */
export class RelayAlreadyRunningError extends RelayError {
  override name = 'RelayAlreadyRunningError'
  constructor(message = 'a relay already runs on this data dir', options?: ErrorOptions) {
    super('already_running', message, options)
  }
}
