import { createECDH } from 'node:crypto'
import { getAddress, keccak256 } from 'ethers'

/**
 * The checksummed address of a secp256k1 private key (0x and 64 hex digits), as ethers' `new Wallet(key).address`
 * gives it, with the public key from OpenSSL: ethers' pure-JS point multiplication cost ~80 ms on the fresh thread
 * where identity checks the key store at every start. A key that is zero or not below the curve order throws.
 */
export function ethAddressOf(privateKey: string): string {
  const ecdh = createECDH('secp256k1')
  ecdh.setPrivateKey(Buffer.from(privateKey.slice(2), 'hex'))
  // 0x04 ‖ x ‖ y: the address is the last 20 bytes of keccak256(x ‖ y)
  return getAddress(`0x${keccak256(ecdh.getPublicKey().subarray(1)).slice(-40)}`)
}
