/** A host's libp2p key (its PeerId): made, persisted as bytes and read back by the caller. */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { InvalidArgumentError } from './errors.ts'

/** A fresh Ed25519 libp2p key for a host. */
export async function generateHostKey(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519')
}

/** Bytes to persist a host key (libp2p's protobuf form). */
export function hostKeyToBytes(key: PrivateKey): Uint8Array {
  return privateKeyToProtobuf(key)
}

/** The host key back from hostKeyToBytes(); throws InvalidArgumentError on bad bytes. */
export function hostKeyFromBytes(bytes: Uint8Array): PrivateKey {
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidArgumentError('not a libp2p private key', { cause: err })
  }
}

/** The PeerId (string) a host key gives, e.g. to get a peer binding signed before start. */
export function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}
