import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { ensureFunds, FAUCET_AMOUNT_WEI } from '../src/index.ts'
import { useDevnet } from './helpers.ts'

const env = useDevnet()
const faucet = () => new Wallet(env.devnet.accounts[5]!.privateKey, env.devnet.provider)

describe('ensureFunds', () => {
  it('tops up an address below the minimum, and leaves a funded one alone', async () => {
    const to = Wallet.createRandom().address
    const hash = await ensureFunds({ faucet: faucet(), address: to })
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/)
    expect(await env.devnet.provider.getBalance(to)).toBe(FAUCET_AMOUNT_WEI)
    await expect(ensureFunds({ faucet: faucet(), address: to })).resolves.toBeUndefined()
    expect(await env.devnet.provider.getBalance(to)).toBe(FAUCET_AMOUNT_WEI)
  })

  it('funds several addresses at once from one key (nonce races are retried)', async () => {
    const targets = Array.from({ length: 4 }, () => Wallet.createRandom().address)
    // separate Wallet objects, as separate processes would have
    await Promise.all(targets.map((address) => ensureFunds({ faucet: faucet(), address, amountWei: 1000n, minWei: 1n })))
    for (const t of targets) expect(await env.devnet.provider.getBalance(t)).toBe(1000n)
  })

  it('fails with insufficient_funds when the faucet is empty', async () => {
    const empty = Wallet.createRandom().connect(env.devnet.provider)
    await expect(ensureFunds({ faucet: empty, address: Wallet.createRandom().address })).rejects.toMatchObject({
      name: 'InsufficientFundsError',
      code: 'insufficient_funds',
    })
  })
})
