import { fileURLToPath } from 'node:url'
import { Cleanup, finished, spawnProcess } from '@baran/testkit'
import { ContractFactory, getAddress, getCreateAddress, HDNodeWallet, hexlify, keccak256 as ethersKeccak256, randomBytes, Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { registryAbi, registryBytecode } from '../src/generated/registry-artifact.ts'
import { ANVIL_MNEMONIC, DEVNET_ACCOUNTS } from '../src/lib/constants.ts'
import { DEVNET_DEV_ACCOUNTS, DEVNET_FIRST_REGISTRY } from '../src/lib/dev-accounts.ts'
import { registryDeployData } from '../src/lib/dev-chain.ts'
import { checksumAddress, keccak256 } from '../src/lib/keccak.ts'

/** Runs fixtures/dev-chain-modules.ts: the modules a fresh process resolves while it imports `specifier` (and starts the chain). */
async function modulesOf(specifier: string, start: boolean): Promise<{ urls: string[]; registry?: string; reused?: boolean }> {
  const cleanup = new Cleanup()
  try {
    const entry = fileURLToPath(new URL('./fixtures/dev-chain-modules.ts', import.meta.url))
    const child = spawnProcess(entry, { cleanup, args: [specifier, ...(start ? ['start'] : [])] })
    const exit = await finished(child)
    expect(exit.code, child.output.join('\n')).toBe(0)
    return JSON.parse(child.output.find((l) => l.startsWith('{'))!)
  } finally {
    await cleanup.run()
  }
}

describe('the dev chain without ethers', () => {
  it('has the dev accounts and first registry address that ethers derives from the mnemonic', () => {
    const root = HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, "m/44'/60'/0'/0")
    const derived = Array.from({ length: DEVNET_ACCOUNTS }, (_, i) => {
      const w = root.deriveChild(i)
      return { address: w.address, privateKey: w.privateKey }
    })
    expect(DEVNET_DEV_ACCOUNTS).toEqual(derived)
    for (const a of DEVNET_DEV_ACCOUNTS) expect(new Wallet(a.privateKey).address).toBe(a.address)
    expect(DEVNET_FIRST_REGISTRY).toBe(getCreateAddress({ from: derived[0]!.address, nonce: 0 }))
  })

  it('hashes with Keccak-256 and checksums addresses like ethers', () => {
    for (const n of [0, 1, 31, 32, 55, 56, 135, 136, 137, 271, 272, 273, 1000]) {
      const data = randomBytes(n)
      expect(hexlify(keccak256(data)), `${n} bytes`).toBe(ethersKeccak256(data))
    }
    for (let i = 0; i < 50; i++) {
      const address = Wallet.createRandom().address
      expect(checksumAddress(address.toLowerCase())).toBe(address)
      expect(checksumAddress(address.slice(2).toUpperCase())).toBe(getAddress(address.slice(2).toUpperCase()))
      expect(checksumAddress(address)).toBe(address)
    }
    const mangled = DEVNET_FIRST_REGISTRY.replace('F', 'f')
    expect(() => getAddress(mangled)).toThrow()
    expect(() => checksumAddress(mangled)).toThrow(/checksum/)
    expect(() => checksumAddress('0x1234')).toThrow(/invalid address/)
  })

  it('sends the deployment data that ethers would send', async () => {
    for (const age of [0, 7, 256, 2 ** 40]) {
      const tx = await new ContractFactory(registryAbi, registryBytecode).getDeployTransaction(age)
      expect(registryDeployData(age)).toBe(tx.data)
    }
    expect(() => registryDeployData(-1)).toThrow(/maxCommitAge/)
  })

  it("starts, funds, mines and reuses the chain without loading any ethers module (the supervisor's path)", async () => {
    const { urls, registry, reused } = await modulesOf('@baran/naming/dev-chain', true)
    expect(urls.some((u) => u.endsWith('/src/lib/dev-chain.ts'))).toBe(true)
    expect(urls.filter((u) => u.includes('/ethers/'))).toEqual([])
    expect(registry).toBe(DEVNET_FIRST_REGISTRY)
    expect(reused).toBe(true)
  })

  it('sees ethers when a module loads it (the check above can fail)', async () => {
    const { urls } = await modulesOf('@baran/naming/devnet', false)
    expect(urls.some((u) => u.includes('/ethers/'))).toBe(true)
  })
})
