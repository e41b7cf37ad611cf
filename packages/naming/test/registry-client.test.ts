import { createServer, type Server, type Socket } from 'node:net'
import { FetchRequest, JsonRpcProvider, Network, type PerformActionRequest, randomBytes, Wallet } from 'ethers'
import { fromBase64Url, nameClaimMessage, signDetached, toBase64Url } from '@baran/trust'
import { afterAll, describe, expect, it } from 'vitest'
import { createProvider, startDevnet } from '../src/lib/devnet.ts'
import { RegistryClient } from '../src/lib/registry-client.ts'
import { account, client, registerRaw as registerRawOn, type TestAccount, uniqueName, useDevnet, waitFor } from './helpers.ts'

const env = useDevnet()

const registerRaw = (name: string, fields: Parameters<typeof registerRawOn>[2]) => registerRawOn(env.devnet, name, fields)

function claimFor(name: string, owner: string): Uint8Array {
  return nameClaimMessage({ name, owner, chainId: env.devnet.chainId, registry: env.devnet.registry })
}

describe('RegistryClient register / lookup / reverse', () => {
  it('registers a name and looks it up, verified', async () => {
    const alice = account(1)
    const name = uniqueName('alice')
    const c = client(env.devnet, 1)
    const result = await c.register(name, alice)
    expect(result.txHashes).toHaveLength(2)
    expect(result.blockNumber).toBeGreaterThan(0)
    const record = await client(env.devnet).lookup(name)
    expect(record).toEqual({
      name,
      accountId: alice.accountId,
      publicKey: alice.publicKey,
      owner: env.devnet.accounts[1]!.address,
      signature: record.signature,
    })
    const message = await c.claimMessage(name, record.owner)
    expect(signDetached(message, alice.secretKey)).toBe(record.signature)
  })

  it('reports each step to onProgress, and a throwing listener does not stop the registration', async () => {
    const steps: string[] = []
    const name = uniqueName('steps')
    const result = await client(env.devnet, 1).register(name, {
      ...account(5),
      onProgress: (p) => {
        steps.push(`${p.phase}${p.txHash ? ':tx' : ''}`)
        throw new Error('listener bug')
      },
    })
    expect(steps).toEqual(['committing', 'committed:tx', 'revealing'])
    expect((await client(env.devnet).lookup(name)).accountId).toBe(account(5).accountId)
    expect(result.txHashes).toHaveLength(2)
  })

  it('reverse-resolves an account ID (with or without 0x, any case) to its name', async () => {
    const bob = account(2)
    const name = uniqueName('bob')
    await client(env.devnet, 1).register(name, bob)
    const c = client(env.devnet)
    expect(await c.reverse(bob.accountId)).toBe(name)
    expect(await c.reverse(`0x${bob.accountId.toUpperCase()}`)).toBe(name)
  })

  it('keeps two accounts apart, and one account may hold several names', async () => {
    const carol = account(3)
    const dave = account(4)
    const [n1, n2, n3] = [uniqueName('carol'), uniqueName('dave'), uniqueName('carol2')]
    const c = client(env.devnet, 2)
    await c.register(n1, carol)
    await c.register(n2, dave)
    await c.register(n3, carol)
    expect((await c.lookup(n1)).accountId).toBe(carol.accountId)
    expect((await c.lookup(n2)).accountId).toBe(dave.accountId)
    expect((await c.lookup(n3)).accountId).toBe(carol.accountId)
    expect(await c.reverse(carol.accountId)).toBe(n1) // the first registered
    expect(await c.reverse(dave.accountId)).toBe(n2)
  })

  it('registers for another owner while the signer pays gas (the name-server case)', async () => {
    const erin = account(5)
    const owner = Wallet.createRandom().address
    const name = uniqueName('erin')
    await client(env.devnet, 3).register(name, { ...erin, owner })
    expect((await client(env.devnet).lookup(name)).owner).toBe(owner)
  })

  it('serialises concurrent registrations from one signer (no nonce clash)', async () => {
    const c = client(env.devnet, 6)
    const names = [uniqueName('con'), uniqueName('con'), uniqueName('con'), uniqueName('con')]
    await Promise.all(names.map((n, i) => c.register(n, account(20 + i))))
    for (const [i, n] of names.entries()) expect((await c.lookup(n)).accountId).toBe(account(20 + i).accountId)
  })

  it('waits for a later block when the node estimates gas at the latest block (as geth does)', async () => {
    // anvil estimates against the pending block; geth against the latest one, where a commit
    // from that very block is still "too new". This provider makes anvil behave like geth.
    class LatestBlockEstimates extends JsonRpcProvider {
      override getRpcRequest(req: PerformActionRequest) {
        const r = super.getRpcRequest(req)
        return r?.method === 'eth_estimateGas' ? { method: r.method, args: [...r.args, 'latest'] } : r
      }
    }
    const provider = new LatestBlockEstimates(new FetchRequest(env.devnet.rpcUrl), undefined, {
      staticNetwork: Network.from(env.devnet.chainId),
      batchMaxCount: 1,
      cacheTimeout: -1,
    })
    try {
      const messages: Array<string | undefined> = []
      const log = { debug: (_o: unknown, msg?: string) => messages.push(msg), info() {}, warn() {}, error() {} }
      const signer = new Wallet(env.devnet.accounts[7]!.privateKey, provider)
      const c = new RegistryClient({ provider, registry: env.devnet.registry, signer, log })
      const name = uniqueName('geth')
      const registering = c.register(name, account(8))
      // With automine, no block comes by itself: mine one once the client says it waits.
      const waiting = async () => (messages.some((m) => m?.startsWith('commitment too new')) ? true : undefined)
      await waitFor(waiting, 'the client to wait for a block')
      await env.devnet.mine(1)
      await registering
      expect((await c.lookup(name)).accountId).toBe(account(8).accountId)
    } finally {
      provider.destroy()
    }
  })

  it('NameNotFoundError for a free name and an account with no name', async () => {
    const c = client(env.devnet)
    await expect(c.lookup(uniqueName('free'))).rejects.toMatchObject({ name: 'NameNotFoundError', code: 'not_found' })
    await expect(c.reverse(account(99).accountId)).rejects.toMatchObject({ name: 'NameNotFoundError', code: 'not_found' })
  })

  it('NameTakenError without sending a transaction when the name is taken', async () => {
    const name = uniqueName('taken')
    await client(env.devnet, 1).register(name, account(6))
    const before = await env.devnet.provider.getTransactionCount(env.devnet.accounts[2]!.address)
    await expect(client(env.devnet, 2).register(name, account(7))).rejects.toMatchObject({
      name: 'NameTakenError',
      code: 'name_taken',
    })
    expect(await env.devnet.provider.getTransactionCount(env.devnet.accounts[2]!.address)).toBe(before)
  })
})

describe('RegistryClient rejects bad input before any transaction', () => {
  const c = () => client(env.devnet, 1)

  it('InvalidNameError with the same rule as the contract', async () => {
    for (const bad of ['ab', 'Alice', '-abc', 'abc-', 'a b', 'é'.repeat(4), 'a'.repeat(33)]) {
      await expect(c().register(bad, account(1))).rejects.toMatchObject({ name: 'InvalidNameError', code: 'invalid_name' })
      await expect(c().lookup(bad)).rejects.toMatchObject({ name: 'InvalidNameError' })
    }
    await expect(c().lookup(42 as unknown as string)).rejects.toMatchObject({ name: 'InvalidNameError', reason: 'not_a_string' })
  })

  it('InvalidAccountIdError for an ID that is not 40 hex characters', async () => {
    for (const bad of ['', 'xyz', 'ab'.repeat(19), 'g'.repeat(40), null]) {
      await expect(c().reverse(bad as string)).rejects.toMatchObject({ name: 'InvalidAccountIdError', code: 'invalid_account_id' })
    }
    await expect(c().register(uniqueName(), { ...account(1), accountId: 'nope' })).rejects.toMatchObject({
      name: 'InvalidAccountIdError',
    })
  })

  it('InvalidClaimError when the ID is not the hash of the key, or the key did not sign', async () => {
    const a = account(1)
    const b = account(2)
    const bad: Array<Partial<TestAccount>> = [
      { accountId: b.accountId }, // someone else's ID
      { publicKey: 'not base64!' },
      { publicKey: toBase64Url(new Uint8Array(31)) },
      { signClaim: b.signClaim }, // signed by another key
      { signClaim: async () => toBase64Url(new Uint8Array(64)) },
      { signClaim: async () => 'garbage' },
    ]
    for (const patch of bad) {
      await expect(c().register(uniqueName(), { ...a, ...patch })).rejects.toMatchObject({
        name: 'InvalidClaimError',
        code: 'invalid_claim',
      })
    }
    await expect(c().register(uniqueName(), { ...a, owner: '0x1234' })).rejects.toMatchObject({ name: 'InvalidClaimError' })
    // A claim for another owner, chain or registry does not verify either.
    const wrongOwner = async (_m: Uint8Array) => signDetached(claimFor('x', Wallet.createRandom().address), a.secretKey)
    await expect(c().register(uniqueName(), { ...a, signClaim: wrongOwner })).rejects.toMatchObject({ name: 'InvalidClaimError' })
  })

  it('MissingSignerError without a signer', async () => {
    await expect(client(env.devnet).register(uniqueName(), account(1))).rejects.toMatchObject({
      name: 'MissingSignerError',
      code: 'no_signer',
    })
  })

  it('InsufficientFundsError when the paying wallet is empty', async () => {
    const poor = Wallet.createRandom(env.devnet.provider)
    const c = new RegistryClient({ provider: env.devnet.provider, registry: env.devnet.registry, signer: poor })
    await expect(c.register(uniqueName('poor'), account(1))).rejects.toMatchObject({
      name: 'InsufficientFundsError',
      code: 'insufficient_funds',
    })
  })
})

describe('RegistryClient verifies records (forged registrations)', () => {
  it('ForgedRecordError when the public key does not hash to the account ID', async () => {
    const victim = account(30)
    const liar = account(31)
    const name = uniqueName('forged')
    const owner = env.devnet.accounts[8]!.address
    // The liar's key and signature are fine, but it claims the victim's ID.
    await registerRaw(name, {
      accountId: victim.accountId,
      publicKey: fromBase64Url(liar.publicKey),
      signature: fromBase64Url(await liar.signClaim(claimFor(name, owner))),
    })
    await expect(client(env.devnet).lookup(name)).rejects.toMatchObject({ name: 'ForgedRecordError', code: 'forged_record' })
  })

  it('ForgedRecordError when the signature is not the account key over this claim', async () => {
    const a = account(32)
    const owner = env.devnet.accounts[8]!.address
    const cases: Array<(name: string) => Promise<Uint8Array>> = [
      async () => randomBytes(64),
      async (name) => fromBase64Url(await account(33).signClaim(claimFor(name, owner))), // another key
      async (name) => fromBase64Url(await a.signClaim(claimFor(name, Wallet.createRandom().address))), // another owner
      async (name) =>
        fromBase64Url(
          await a.signClaim(nameClaimMessage({ name, owner, chainId: 1n, registry: env.devnet.registry })), // another chain
        ),
      async () => fromBase64Url(await a.signClaim(claimFor('someothername', owner))), // another name
    ]
    for (const signature of cases) {
      const name = uniqueName('badsig')
      await registerRaw(name, { accountId: a.accountId, publicKey: fromBase64Url(a.publicKey), signature: await signature(name) })
      await expect(client(env.devnet).lookup(name)).rejects.toMatchObject({ name: 'ForgedRecordError' })
    }
    // None of those names counts for the account in a reverse lookup.
    await expect(client(env.devnet).reverse(a.accountId)).rejects.toMatchObject({ name: 'NameNotFoundError' })
  })

  it('junk names registered with an account ID do not block its reverse lookup', async () => {
    const victim = account(34)
    const liar = account(35)
    const owner = env.devnet.accounts[8]!.address
    for (let i = 0; i < 3; i++) {
      const junk = uniqueName('junk')
      await registerRaw(junk, {
        accountId: victim.accountId,
        publicKey: fromBase64Url(liar.publicKey),
        signature: fromBase64Url(await liar.signClaim(claimFor(junk, owner))),
      })
    }
    const real = uniqueName('real')
    await client(env.devnet, 1).register(real, victim)
    expect(await client(env.devnet).reverse(victim.accountId)).toBe(real)
  })
})

describe('RegistryClient when the chain is unreachable', () => {
  const servers: Server[] = []
  const sockets = new Set<Socket>()
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  })

  it('ChainUnavailableError after the chain stopped (connection refused)', async () => {
    const d = await startDevnet()
    const provider = createProvider(d.rpcUrl, { chainId: d.chainId, timeoutMs: 2000 })
    try {
      const c = new RegistryClient({ provider, registry: d.registry, signer: new Wallet(d.accounts[1]!.privateKey, provider) })
      const name = uniqueName('down')
      await c.register(name, account(40))
      await d.stop()
      for (const op of [() => c.lookup(name), () => c.reverse(account(40).accountId), () => c.register(uniqueName(), account(41))]) {
        await expect(op()).rejects.toMatchObject({ name: 'ChainUnavailableError', code: 'unavailable' })
      }
    } finally {
      provider.destroy()
      await d.stop()
    }
  })

  it('ChainUnavailableError when the RPC accepts connections but never answers', async () => {
    // A loopback "black hole": accepts TCP connections and never replies.
    const hole = createServer((s) => {
      sockets.add(s)
      s.on('error', () => {})
    })
    servers.push(hole)
    await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(hole.address() as { port: number }).port}`
    const provider = createProvider(url, { chainId: 31337n, timeoutMs: 5000 })
    try {
      const c = new RegistryClient({ provider, registry: env.devnet.registry, chainId: 31337n, rpcTimeoutMs: 300 })
      await expect(c.lookup('alice')).rejects.toMatchObject({ name: 'ChainUnavailableError', code: 'unavailable' })
    } finally {
      provider.destroy()
    }
  })
})
