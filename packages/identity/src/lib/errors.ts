/**
 * Errors of the identity library. Each failure has its own class with a stable `name` and `code`
 * (callers and the bus adapter check those, not `instanceof`, which breaks across package copies).
 */

/** Every identity error code, one per class below. */
export type IdentityErrorCode =
  | 'not_an_archive'
  | 'unsupported_version'
  | 'truncated'
  | 'wrong_password'
  | 'tampered'
  | 'malformed_archive'
  | 'invalid_kdf_params'
  | 'passphrase_required'
  | 'store_not_sealed'
  | 'corrupt_store'
  | 'store_not_loaded'
  | 'no_account'
  | 'account_exists'
  | 'invalid_argument'
  | 'unknown_device'
  | 'own_device'
  | 'already_revoked'
  | 'device_revoked'
  | 'too_many_devices'
  | 'too_many_revocations'
  | 'forbidden_signing'
  | 'invalid_pin'
  | 'wrong_pin'
  | 'link_expired'
  | 'malformed_link'
  | 'link_too_large'
  | 'untrusted_device_list'
  | 'bad_recipient'

/** Base class of every error thrown by this library. */
export class IdentityError extends Error {
  readonly code: IdentityErrorCode

  constructor(code: IdentityErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'IdentityError'
    this.code = code
  }
}

/** Thrown when the bytes do not start with the expected container magic. */
export class NotAnArchiveError extends IdentityError {
  constructor(message = 'Not a Baran archive (bad magic)', options?: ErrorOptions) {
    super('not_an_archive', message, options)
    this.name = 'NotAnArchiveError'
  }
}

/** Thrown when a container has a format version this library does not know. */
export class UnsupportedArchiveVersionError extends IdentityError {
  constructor(message = 'Unsupported archive version', options?: ErrorOptions) {
    super('unsupported_version', message, options)
    this.name = 'UnsupportedArchiveVersionError'
  }
}

/** Thrown when a container ends before its header or ciphertext does. */
export class TruncatedArchiveError extends IdentityError {
  constructor(message = 'Archive is truncated', options?: ErrorOptions) {
    super('truncated', message, options)
    this.name = 'TruncatedArchiveError'
  }
}

/** Thrown when the password (or store passphrase) does not match the container's check value. */
export class WrongPasswordError extends IdentityError {
  constructor(message = 'Wrong password', options?: ErrorOptions) {
    super('wrong_password', message, options)
    this.name = 'WrongPasswordError'
  }
}

/** Thrown when the password is right but the ciphertext or header was altered (MAC or header hash fails). */
export class TamperedArchiveError extends IdentityError {
  constructor(message = 'Archive was tampered with (authentication failed)', options?: ErrorOptions) {
    super('tampered', message, options)
    this.name = 'TamperedArchiveError'
  }
}

/** Thrown when a container's header or decrypted payload is not well formed. */
export class MalformedArchiveError extends IdentityError {
  constructor(message = 'Malformed archive', options?: ErrorOptions) {
    super('malformed_archive', message, options)
    this.name = 'MalformedArchiveError'
  }
}

/** Thrown when scrypt parameters are out of the accepted range (too weak, or too costly to run). */
export class InvalidKdfParamsError extends IdentityError {
  constructor(message = 'Invalid scrypt parameters', options?: ErrorOptions) {
    super('invalid_kdf_params', message, options)
    this.name = 'InvalidKdfParamsError'
  }
}

/** Thrown when the key store on disk is sealed but no passphrase was given. */
export class PassphraseRequiredError extends IdentityError {
  constructor(message = 'The key store is sealed: a passphrase is required', options?: ErrorOptions) {
    super('passphrase_required', message, options)
    this.name = 'PassphraseRequiredError'
  }
}

/** Thrown when a passphrase was given but the key store on disk is not sealed (refuses a silent downgrade). */
export class StoreNotSealedError extends IdentityError {
  constructor(message = 'A passphrase was given but the key store on disk is not sealed', options?: ErrorOptions) {
    super('store_not_sealed', message, options)
    this.name = 'StoreNotSealedError'
  }
}

/** Thrown when the key store file cannot be parsed or its keys do not match each other. */
export class CorruptStoreError extends IdentityError {
  constructor(message = 'The key store file is corrupt', options?: ErrorOptions) {
    super('corrupt_store', message, options)
    this.name = 'CorruptStoreError'
  }
}

/** Thrown when a synchronous method is called before `load()`. */
export class StoreNotLoadedError extends IdentityError {
  constructor(message = 'The key store is not loaded: call load() first', options?: ErrorOptions) {
    super('store_not_loaded', message, options)
    this.name = 'StoreNotLoadedError'
  }
}

/** Thrown when an operation needs an account and the store holds none. */
export class NoAccountError extends IdentityError {
  constructor(message = 'This node has no account', options?: ErrorOptions) {
    super('no_account', message, options)
    this.name = 'NoAccountError'
  }
}

/** Thrown when creating or importing an account into a store that already holds one. */
export class AccountExistsError extends IdentityError {
  constructor(message = 'This node already has an account', options?: ErrorOptions) {
    super('account_exists', message, options)
    this.name = 'AccountExistsError'
  }
}

/** Thrown when an argument has the wrong type, shape or size. */
export class InvalidArgumentError extends IdentityError {
  constructor(message = 'Invalid argument', options?: ErrorOptions) {
    super('invalid_argument', message, options)
    this.name = 'InvalidArgumentError'
  }
}

/** Thrown when revoking a device that is not in the account's device list. */
export class UnknownDeviceError extends IdentityError {
  constructor(message = 'Unknown device', options?: ErrorOptions) {
    super('unknown_device', message, options)
    this.name = 'UnknownDeviceError'
  }
}

/** Thrown when asked to revoke the device this store runs on. */
export class OwnDeviceError extends IdentityError {
  constructor(message = 'Cannot revoke this node\'s own device', options?: ErrorOptions) {
    super('own_device', message, options)
    this.name = 'OwnDeviceError'
  }
}

/** Thrown when revoking a device that is already revoked. */
export class AlreadyRevokedError extends IdentityError {
  constructor(message = 'Device is already revoked', options?: ErrorOptions) {
    super('already_revoked', message, options)
    this.name = 'AlreadyRevokedError'
  }
}

/** Thrown when certifying a device key whose device ID has been revoked. */
export class DeviceRevokedError extends IdentityError {
  constructor(message = 'Device has been revoked and cannot be certified again', options?: ErrorOptions) {
    super('device_revoked', message, options)
    this.name = 'DeviceRevokedError'
  }
}

/** Thrown when the device list would exceed its maximum size. */
export class TooManyDevicesError extends IdentityError {
  constructor(message = 'The device list is full', options?: ErrorOptions) {
    super('too_many_devices', message, options)
    this.name = 'TooManyDevicesError'
  }
}

/** Thrown when the revocation list would exceed its maximum size. */
export class TooManyRevocationsError extends IdentityError {
  constructor(message = 'The revocation list is full', options?: ErrorOptions) {
    super('too_many_revocations', message, options)
    this.name = 'TooManyRevocationsError'
  }
}

/** Thrown when a generic signing request could forge an account-level record or statement. */
export class ForbiddenSigningError extends IdentityError {
  constructor(message = 'Refused to sign this message or record', options?: ErrorOptions) {
    super('forbidden_signing', message, options)
    this.name = 'ForbiddenSigningError'
  }
}

/** Thrown when a PIN is not 8 characters of the PIN alphabet (dashes and spaces aside). */
export class InvalidPinError extends IdentityError {
  constructor(message = 'Invalid PIN', options?: ErrorOptions) {
    super('invalid_pin', message, options)
    this.name = 'InvalidPinError'
  }
}

/** Thrown when a link offer does not open with the given PIN. */
export class WrongPinError extends IdentityError {
  constructor(message = 'Wrong PIN: the link offer does not open with it', options?: ErrorOptions) {
    super('wrong_pin', message, options)
    this.name = 'WrongPinError'
  }
}

/** Thrown when there is no link offer for a PIN (never put, expired or deleted), or the offer says it expired. */
export class LinkExpiredError extends IdentityError {
  constructor(message = 'No link offer for this PIN (expired or never made)', options?: ErrorOptions) {
    super('link_expired', message, options)
    this.name = 'LinkExpiredError'
  }
}

/** Thrown when bytes given as a link offer are not one (bad version, too short, bad contents). */
export class MalformedLinkError extends IdentityError {
  constructor(message = 'Not a device-link offer', options?: ErrorOptions) {
    super('malformed_link', message, options)
    this.name = 'MalformedLinkError'
  }
}

/** Thrown when the sealed account is larger than a DHT value may be (many contacts): use an archive instead. */
export class LinkTooLargeError extends IdentityError {
  constructor(message = 'The account is too large to link by PIN', options?: ErrorOptions) {
    super('link_too_large', message, options)
    this.name = 'LinkTooLargeError'
  }
}

/** Thrown when a device list or revocation list offered for merging is not a valid record of this account. */
export class UntrustedDeviceListError extends IdentityError {
  constructor(message = 'Device list is not signed by this account', options?: ErrorOptions) {
    super('untrusted_device_list', message, options)
    this.name = 'UntrustedDeviceListError'
  }
}

/** Thrown when a recipient's device-cert given to seal an envelope does not verify (signature, expiry, IDs). */
export class BadRecipientError extends IdentityError {
  constructor(message = 'A recipient certificate does not verify', options?: ErrorOptions) {
    super('bad_recipient', message, options)
    this.name = 'BadRecipientError'
  }
}
