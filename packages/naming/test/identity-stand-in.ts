/**
 * A stand-in for the identity actor, serving the four contracts naming calls, with real keys (an Ed25519
 * account key, an Ethereum key). Actor packages do not import each other: the real identity actor meets the
 * naming actor in apps/node's end-to-end tests.
 */
import { defineActor } from '@baran/actor'
import { BusError, identityEthSignMessage, identityEthSignTransaction, identitySignNameClaim, identityStatus } from '@baran/bus'
import { keyPairFromSeed, nameClaimMessage, signDetached } from '@baran/trust'
import { Wallet } from 'ethers'
import { z } from 'zod'

export interface StandInAccount {
  accountId: string
  accountKey: string
  ethAddress: string
}

/** The account a seed byte gives (without running anything). */
export function standInAccount(seedByte: number): StandInAccount & { wallet: Wallet; secretKey: Uint8Array } {
  const kp = keyPairFromSeed(new Uint8Array(32).fill(seedByte))
  const wallet = new Wallet(`0x${seedByte.toString(16).padStart(2, '0').repeat(32)}`)
  return { accountId: kp.id, accountKey: kp.signer, ethAddress: wallet.address, wallet, secretKey: kp.secretKey }
}

/** config.seed: the account's keys; without it the node holds no account. */
export const identityStandIn = defineActor({
  name: 'identity',
  version: '0.0.0',
  implementation: 'naming-test-stand-in',
  contracts: [identityStatus, identitySignNameClaim, identityEthSignTransaction, identityEthSignMessage],
  config: z.object({ seed: z.number().int().min(1).max(254).optional() }).strict(),
  async start(ctx) {
    const acc = ctx.config.seed === undefined ? undefined : standInAccount(ctx.config.seed)
    const need = () => {
      if (!acc) throw new BusError('no_account', 'this node holds no account yet')
      return acc
    }
    ctx.serve(identityStatus, () => {
      if (!acc) return { hasAccount: false }
      const device = { deviceId: acc.accountId, deviceKey: acc.accountKey, name: 'test', current: true }
      return {
        hasAccount: true,
        account: { ...device, accountId: acc.accountId, accountKey: acc.accountKey, deviceName: 'test', ethAddress: acc.ethAddress, devices: [device], revoked: [] },
      }
    })
    ctx.serve(identitySignNameClaim, ({ name, owner, chainId, registry }) => {
      const a = need()
      const signature = signDetached(nameClaimMessage({ name, owner, chainId: BigInt(chainId), registry }), a.secretKey)
      return { signature, accountId: a.accountId, accountKey: a.accountKey }
    })
    ctx.serve(identityEthSignTransaction, async ({ tx }) => {
      const a = need()
      const signed = await a.wallet.signTransaction({
        ...tx,
        to: tx.to ?? null,
        value: BigInt(tx.value ?? '0'),
        gasLimit: BigInt(tx.gasLimit),
        chainId: BigInt(tx.chainId),
        ...(tx.maxFeePerGas === undefined ? {} : { maxFeePerGas: BigInt(tx.maxFeePerGas) }),
        ...(tx.maxPriorityFeePerGas === undefined ? {} : { maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas) }),
        ...(tx.gasPrice === undefined ? {} : { gasPrice: BigInt(tx.gasPrice) }),
      })
      return { signed, from: a.wallet.address }
    })
    ctx.serve(identityEthSignMessage, async ({ message }) => {
      const a = need()
      return { signature: await a.wallet.signMessage(message), from: a.wallet.address }
    })
    return {}
  },
})
