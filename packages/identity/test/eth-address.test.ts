import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { ethAddressOf } from '../src/lib/eth-address.ts'

describe('ethAddressOf', () => {
  it("gives the address ethers' Wallet derives, checksummed", () => {
    for (let i = 0; i < 20; i++) {
      const w = Wallet.createRandom()
      expect(ethAddressOf(w.privateKey)).toBe(w.address)
    }
    // anvil's first dev account: a fixed vector
    expect(ethAddressOf('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  })

  it('refuses what is not a secp256k1 private key', () => {
    expect(() => ethAddressOf(`0x${'0'.repeat(64)}`)).toThrow()
    expect(() => ethAddressOf(`0x${'f'.repeat(64)}`)).toThrow()
  })
})
