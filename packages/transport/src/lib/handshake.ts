/**
 * The HELLO exchange of `/baran/msg/1.0.0`: this device's credentials framed as its HELLO, and the check of a
 * remote's HELLO (its chain bound to the Noise-authenticated PeerId, then the revocation policy).
 */
import { decodeRecord, encodeRecord, isTrustError, type SignedRecord, type VerifiedChain, verifyChain } from '@baran/trust'
import { InvalidArgumentError } from './errors.ts'
import { encodeFrame, type HelloFrame } from './frames.ts'
import { type RevokedDevices, revokedDevicesOf } from './revocations.ts'
import { HelloRefusedError } from './session-errors.ts'

/** This device's credentials, issued (signed) by the identity actor. */
export interface Credentials {
  /** 'device-cert' signed by the account key. */
  deviceCert: SignedRecord
  /** 'peer-binding' signed by the device key, for this host's PeerId. */
  peerBinding: SignedRecord
  /** The account's 'revocations' record, if it has one. */
  revocations?: SignedRecord
}

/** Revocation policy injected by the caller (e.g. the revocation lists learnt from presence). */
export type IsRevoked = (accountId: string, deviceId: string) => boolean | Promise<boolean>

/** A verified remote: its chain and the PeerId it is bound to. */
export type VerifiedRemote = VerifiedChain & { peerId: string }

/** This device's HELLO frame; throws InvalidArgumentError when `creds` is not an object. */
export function helloFrameOf(creds: Credentials, maxFrameBytes: number): Uint8Array {
  if (typeof creds !== 'object' || creds === null) throw new InvalidArgumentError('credentials must be an object')
  return encodeFrame(
    {
      type: 'hello',
      deviceCert: encodeRecord(creds.deviceCert),
      peerBinding: encodeRecord(creds.peerBinding),
      revocations: creds.revocations === undefined ? undefined : encodeRecord(creds.revocations),
    },
    maxFrameBytes,
  )
}

/** What checking a remote's HELLO needs from the host. */
export interface HelloCheck {
  /** Clock skew tolerated when verifying the remote's records (trust's default when undefined). */
  clockSkewMs: number | undefined
  /** Devices this host already refuses. */
  revoked: RevokedDevices
  /** The caller's revocation policy, asked last. */
  isRevoked: IsRevoked | undefined
  /** Cuts a device that the remote's own account lists as revoked. */
  cut: (accountId: string, deviceId: string) => void
}

/** Checks the remote's HELLO: chain bound to the Noise-authenticated PeerId, then the revocation policy. */
export async function verifyHello(hello: HelloFrame, remotePeerId: string, check: HelloCheck): Promise<VerifiedRemote> {
  let chain: VerifiedChain
  let revocations: SignedRecord | undefined
  try {
    revocations = hello.revocations === undefined ? undefined : decodeRecord(hello.revocations)
    chain = verifyChain({
      deviceCert: decodeRecord(hello.deviceCert),
      peerBinding: decodeRecord(hello.peerBinding),
      revocations,
      expect: { peerId: remotePeerId },
      clockSkewMs: check.clockSkewMs,
    })
  } catch (err) {
    const reason = isTrustError(err) ? `${err.code}: ${err.message}` : 'invalid credentials'
    throw new HelloRefusedError(reason, { cause: err, closeCode: isTrustError(err) && err.code === 'revoked' ? 'revoked' : 'handshake_failed' })
  }
  // the account's own revocation list came with it (its signature just checked): cut those siblings too
  for (const d of revokedDevicesOf(revocations)) check.cut(chain.accountId, d)
  if (check.revoked.has(chain.accountId, chain.deviceId)) {
    throw new HelloRefusedError(`revoked: device ${chain.deviceId} of account ${chain.accountId}`, { closeCode: 'revoked' })
  }
  const isRevoked = check.isRevoked
  if (isRevoked !== undefined) {
    let revoked: boolean
    try {
      revoked = await isRevoked(chain.accountId, chain.deviceId)
    } catch (err) {
      // fail closed: a device we cannot check is not trusted
      throw new HelloRefusedError('revocation check failed', { cause: err })
    }
    // it may have been revoked while the policy was being asked
    if (revoked || check.revoked.has(chain.accountId, chain.deviceId)) {
      throw new HelloRefusedError(`revoked: device ${chain.deviceId} of account ${chain.accountId}`, { closeCode: 'revoked' })
    }
  }
  return { ...chain, peerId: remotePeerId }
}
