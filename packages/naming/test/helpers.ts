/** Shared test fixtures: a real anvil per test file, Ed25519 accounts, bounded polling. */
import { Contract, hexlify, type JsonRpcProvider, randomBytes, Wallet } from 'ethers'
import { keyPairFromSeed, signDetached } from '@baran/trust'
import { afterAll, beforeAll } from 'vitest'
import { registryAbi } from '../src/generated/registry-artifact.ts'
import { type Devnet, type DevnetOptions, startDevnet } from '../src/lib/devnet.ts'
import { computeCommitment, RegistryClient, type RegistryClientInit } from '../src/lib/registry-client.ts'

/** Starts a devnet before the file's tests and always stops it after them. */
export function useDevnet(opts: DevnetOptions = {}): { readonly devnet: Devnet } {
  let devnet: Devnet | undefined
  beforeAll(async () => {
    devnet = await startDevnet(opts)
  })
  afterAll(async () => {
    await devnet?.stop()
  })
  return {
    get devnet(): Devnet {
      if (!devnet) throw new Error('devnet not started')
      return devnet
    },
  }
}

export interface TestAccount {
  accountId: string
  publicKey: string
  secretKey: Uint8Array
  signClaim: (message: Uint8Array) => Promise<string>
}

/** A deterministic Ed25519 account from one seed byte. */
export function account(seedByte: number): TestAccount {
  const kp = keyPairFromSeed(new Uint8Array(32).fill(seedByte))
  return {
    accountId: kp.id,
    publicKey: kp.signer,
    secretKey: kp.secretKey,
    signClaim: async (m) => signDetached(m, kp.secretKey),
  }
}

/** A wallet on the devnet from one of anvil's funded accounts. */
export function wallet(devnet: Devnet, index: number): Wallet {
  return new Wallet(devnet.accounts[index]!.privateKey, devnet.provider)
}

export function client(devnet: Devnet, walletIndex?: number, extra: Partial<RegistryClientInit> = {}): RegistryClient {
  return new RegistryClient({
    provider: devnet.provider,
    registry: devnet.registry,
    chainId: devnet.chainId,
    signer: walletIndex === undefined ? undefined : wallet(devnet, walletIndex),
    ...extra,
  })
}

export function registry(devnet: Devnet, runner: Wallet | JsonRpcProvider = devnet.provider): Contract {
  return new Contract(devnet.registry, registryAbi, runner)
}

let counter = 0
/** A fresh valid name per call, so tests sharing a devnet never collide. */
export function uniqueName(prefix = 'n'): string {
  counter++
  return `${prefix}${process.pid.toString(36)}${counter.toString(36)}`.slice(0, 32)
}

/** Polls `probe` every 20 ms until it returns a value, at most `tries` times. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, tries = 250): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Hashes of the transactions waiting in anvil's mempool. */
export async function pendingTxHashes(devnet: Devnet): Promise<string[]> {
  const content = (await devnet.provider.send('txpool_content', [])) as {
    pending: Record<string, Record<string, { hash: string }>>
  }
  return Object.values(content.pending).flatMap((byNonce) => Object.values(byNonce).map((tx) => tx.hash))
}

/**
 * Writes a record straight through the contract, as a lying registrant could: any accountId,
 * publicKey and signature, no client-side checks. Paid by dev account 8, which owns the name.
 */
export async function registerRaw(
  devnet: Devnet,
  name: string,
  fields: { accountId: string; publicKey: Uint8Array; signature: Uint8Array },
): Promise<void> {
  const reg = registry(devnet, wallet(devnet, 8))
  const a = {
    name,
    owner: devnet.accounts[8]!.address,
    secret: hexlify(randomBytes(32)),
    accountId: `0x${fields.accountId}`,
    publicKey: hexlify(fields.publicKey),
    signature: hexlify(fields.signature),
  }
  await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
  await (await reg.getFunction('reveal').send(a.name, a.owner, a.secret, a.accountId, a.publicKey, a.signature)).wait()
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}
