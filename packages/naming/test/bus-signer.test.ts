import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { verifyMessage, Wallet } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { BusSigner } from '../src/index.ts'
import { useDevnet } from './helpers.ts'
import { identityStandIn, standInAccount } from './identity-stand-in.ts'

const env = useDevnet()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

async function identity(seed?: number) {
  const nats = await setupNats({ cleanup })
  await runInline(identityStandIn, { cleanup, node: 'n1', url: nats.url, dataDir: await tempDir(cleanup), config: seed === undefined ? {} : { seed } })
  return nats.bus
}

describe('BusSigner', () => {
  it("sends transactions signed by the identity actor with the account's Ethereum key", async () => {
    const bus = await identity(31)
    const acc = standInAccount(31)
    const signer = new BusSigner(bus, env.devnet.provider)
    expect(await signer.getAddress()).toBe(acc.ethAddress)
    await env.devnet.fund(acc.ethAddress, 10n ** 18n)
    const to = Wallet.createRandom().address
    const tx = await signer.sendTransaction({ to, value: 12345n })
    const receipt = await tx.wait()
    expect(receipt?.status).toBe(1)
    expect(tx.from).toBe(acc.ethAddress)
    expect(await env.devnet.provider.getBalance(to)).toBe(12345n)
    // the next one gets the next nonce
    const again = await signer.sendTransaction({ to, value: 1n })
    expect(again.nonce).toBe(tx.nonce + 1)
    await again.wait()
  })

  it('signs messages (EIP-191) and refuses what the bus cannot carry', async () => {
    const bus = await identity(32)
    const signer = new BusSigner(bus, env.devnet.provider)
    const sig = await signer.signMessage('hello baran')
    expect(verifyMessage('hello baran', sig)).toBe(standInAccount(32).ethAddress)
    expect(verifyMessage('hello baran', await signer.signMessage(new TextEncoder().encode('hello baran')))).toBe(standInAccount(32).ethAddress)
    await expect(signer.signMessage(new Uint8Array([0xff, 0xfe]))).rejects.toMatchObject({ name: 'SignerError', code: 'signer_error' })
    await expect(signer.signTypedData({}, {}, {})).rejects.toMatchObject({ code: 'signer_error' })
    await expect(signer.signTransaction({ to: Wallet.createRandom().address })).rejects.toMatchObject({ code: 'signer_error' })
    await expect(signer.signTransaction({ from: Wallet.createRandom().address, nonce: 0, gasLimit: 21000n, chainId: 31337n })).rejects.toMatchObject({
      code: 'signer_error',
    })
    expect(signer.connect(null).provider).toBeNull()
  })

  it('says no_account while identity holds no account', async () => {
    const bus = await identity()
    const signer = new BusSigner(bus, env.devnet.provider)
    await expect(signer.getAddress()).rejects.toMatchObject({ name: 'NoAccountError', code: 'no_account' })
  })
})
