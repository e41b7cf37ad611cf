/**
 * Errors of the NAT lab. Each failure has its own class with a stable `name` and `code` (tests
 * check those, not `instanceof`).
 */

/** Every NAT lab error code, one per class below. */
export type NatLabErrorCode =
  | 'invalid_tag'
  | 'invalid_nat_type'
  | 'unknown_node'
  | 'tools_missing'
  | 'command_failed'
  | 'setup_failed'
  | 'teardown_failed'
  | 'host_failed'
  | 'timeout'

/** Base class of every error thrown by the lab. */
export class NatLabError extends Error {
  readonly code: NatLabErrorCode

  constructor(code: NatLabErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'NatLabError'
    this.code = code
  }
}

/** Thrown when a lab tag is not 1..6 characters of [a-z0-9] (it is part of every name the lab makes). */
export class InvalidTagError extends NatLabError {
  constructor(message = 'A lab tag is 1..6 characters of [a-z0-9]', options?: ErrorOptions) {
    super('invalid_tag', message, options)
    this.name = 'InvalidTagError'
  }
}

/** Thrown when `run()` is given a node name that is not one of the lab's namespaces. */
export class UnknownNodeError extends NatLabError {
  constructor(message = 'Not a node of the lab', options?: ErrorOptions) {
    super('unknown_node', message, options)
    this.name = 'UnknownNodeError'
  }
}

/** Thrown when `ip` or `nft` is missing and cannot be installed (not root, or apt-get failed). */
export class ToolsMissingError extends NatLabError {
  constructor(message = 'iproute2 and nftables are needed (apt-get install -y iproute2 nftables)', options?: ErrorOptions) {
    super('tools_missing', message, options)
    this.name = 'ToolsMissingError'
  }
}

/** Thrown when a command the lab runs (ip, nft, apt-get) exits non-zero or cannot start. */
export class CommandFailedError extends NatLabError {
  /** The command line, for the report. */
  readonly command: string
  /** What the command wrote to stderr. */
  readonly stderr: string

  constructor(command: string, stderr = '', options?: ErrorOptions) {
    super('command_failed', `Command failed: ${command}${stderr ? `: ${stderr.trim()}` : ''}`, options)
    this.name = 'CommandFailedError'
    this.command = command
    this.stderr = stderr
  }
}

/** Thrown when building a lab failed; whatever had been made is removed before this is thrown. */
export class LabSetupError extends NatLabError {
  constructor(message = 'Could not build the NAT lab', options?: ErrorOptions) {
    super('setup_failed', message, options)
    this.name = 'LabSetupError'
  }
}

/** Thrown when a teardown could not remove everything it made (the message lists what is left). */
export class LabTeardownError extends NatLabError {
  constructor(message = 'The NAT lab was not removed completely', options?: ErrorOptions) {
    super('teardown_failed', message, options)
    this.name = 'LabTeardownError'
  }
}

/** Thrown when a transport host process in the lab exits before printing what was awaited. */
export class HostProcessError extends NatLabError {
  constructor(message = 'The host process exited', options?: ErrorOptions) {
    super('host_failed', message, options)
    this.name = 'HostProcessError'
  }
}

/** Thrown when an awaited host event did not come in time. */
export class LabTimeoutError extends NatLabError {
  constructor(message = 'Timed out waiting in the NAT lab', options?: ErrorOptions) {
    super('timeout', message, options)
    this.name = 'LabTimeoutError'
  }
}

/** Thrown when a router is given a NAT type that is not one of NAT_TYPES (or a full cone without its LAN host). */
export class InvalidNatTypeError extends NatLabError {
  constructor(message = 'Not a NAT type', options?: ErrorOptions) {
    super('invalid_nat_type', message, options)
    this.name = 'InvalidNatTypeError'
  }
}
