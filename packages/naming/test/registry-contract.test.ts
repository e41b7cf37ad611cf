/**
 * The registry contract itself, driven through ethers: commit–reveal timing, front-running
 * with automine off, copied commitments, expiry, double registration, reverse-lookup lists.
 */
import { type Contract, hexlify, randomBytes } from 'ethers'
import fc from 'fast-check'
import { fromBase64Url, nameClaimMessage } from '@baran/trust'
import { describe, expect, it } from 'vitest'
import { registryInterface, toNamingError } from '../src/lib/chain-errors.ts'
import { computeCommitment } from '../src/lib/registry-client.ts'
import { account, client, pendingTxHashes, registry, type TestAccount, uniqueName, useDevnet, wallet, waitFor } from './helpers.ts'

const MAX_COMMIT_AGE = 5
const env = useDevnet({ maxCommitAge: MAX_COMMIT_AGE })

/** Reveal arguments for `acct` claiming `name` for `owner`, properly signed. */
async function revealArgs(name: string, owner: string, acct: TestAccount) {
  const message = nameClaimMessage({ name, owner, chainId: env.devnet.chainId, registry: env.devnet.registry })
  return {
    name,
    owner,
    secret: hexlify(randomBytes(32)),
    accountId: `0x${acct.accountId}`,
    publicKey: hexlify(fromBase64Url(acct.publicKey)),
    signature: hexlify(fromBase64Url(await acct.signClaim(message))),
  }
}
type Args = Awaited<ReturnType<typeof revealArgs>>
const list = (a: Args) => [a.name, a.owner, a.secret, a.accountId, a.publicKey, a.signature] as const

/** Commits `a` and mines one more block, so that an eth_call of the reveal is not "too new". */
async function commitAged(reg: Contract, a: Args): Promise<void> {
  await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
  await env.devnet.mine(1)
}

async function expectRevert(p: Promise<unknown>, errorName: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e, `expected revert ${errorName}`).toBeDefined()
  const data = (e as { data?: string }).data
  expect(data && registryInterface.parseError(data)?.name).toBe(errorName)
}

describe('Registry contract', () => {
  it('computeCommitment matches the contract makeCommitment', async () => {
    const c = registry(env.devnet).getFunction('makeCommitment')
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 0, maxLength: 80 }),
        async (name, secret, sig) => {
          const a = { ...(await revealArgs(uniqueName(), env.devnet.accounts[1]!.address, account(1))), name }
          a.secret = hexlify(secret)
          a.signature = hexlify(sig)
          expect(await c.staticCall(...list(a))).toBe(computeCommitment(a))
        },
      ),
      { numRuns: 25 },
    )
  })

  it('reveal needs a commitment from an earlier block, within maxCommitAge blocks', async () => {
    const w = wallet(env.devnet, 1)
    const reg = registry(env.devnet, w)
    const a = await revealArgs(uniqueName('t'), w.address, account(2))
    await expectRevert(reg.getFunction('reveal').staticCall(...list(a)), 'CommitmentUnknown')

    const receipt = await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
    expect(await reg.getFunction('commitments').staticCall(computeCommitment(a))).toBe(BigInt(receipt!.blockNumber))
    // eth_call at the commit's own block: same block number → too new.
    await expectRevert(
      reg.getFunction('reveal').staticCall(...list(a), { blockTag: receipt!.blockNumber }),
      'CommitmentTooNew',
    )
    // Exactly maxCommitAge blocks later still works (the reveal's block is commit + MAX).
    await env.devnet.mine(MAX_COMMIT_AGE - 1)
    const tx = await reg.getFunction('reveal').send(...list(a))
    const r = await tx.wait()
    expect(r!.blockNumber).toBe(receipt!.blockNumber + MAX_COMMIT_AGE)
    const log = r!.logs.map((l) => registryInterface.parseLog(l)).find((l) => l?.name === 'NameRegistered')
    expect(log?.args.name).toBe(a.name)
    expect(log?.args.owner).toBe(w.address)
    expect(log?.args.accountId).toBe(a.accountId)
  })

  it('a commitment older than maxCommitAge blocks is expired (CommitExpiredError)', async () => {
    const w = wallet(env.devnet, 1)
    const reg = registry(env.devnet, w)
    const a = await revealArgs(uniqueName('exp'), w.address, account(3))
    await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
    await env.devnet.mine(MAX_COMMIT_AGE) // the reveal would land at commit + MAX + 1
    const e = await reg.getFunction('reveal').send(...list(a)).catch((err: unknown) => err)
    const mapped = toNamingError(e, 'reveal')
    expect(mapped.name).toBe('CommitExpiredError')
    expect(mapped.code).toBe('commit_expired')
    // Committing again refreshes an expired commitment.
    await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
    await (await reg.getFunction('reveal').send(...list(a))).wait()
    expect((await client(env.devnet).lookup(a.name)).accountId).toBe(account(3).accountId)
  })

  it('a name is never registered twice, whoever commits it', async () => {
    const name = uniqueName('twice')
    await client(env.devnet, 1).register(name, account(4))
    const w = wallet(env.devnet, 2)
    const reg = registry(env.devnet, w)
    const a = await revealArgs(name, w.address, account(5))
    await commitAged(reg, a)
    await expectRevert(reg.getFunction('reveal').staticCall(...list(a)), 'NameTaken')
    await expect(client(env.devnet, 2).register(name, account(5))).rejects.toMatchObject({ name: 'NameTakenError' })
  })

  it('the contract rejects invalid names even with a valid commitment', async () => {
    const w = wallet(env.devnet, 1)
    const reg = registry(env.devnet, w)
    for (const bad of ['Alice', '-abc', 'ab', 'a b c', 'é-é']) {
      const a = { ...(await revealArgs('placeholder', w.address, account(6))), name: bad }
      await commitAged(reg, a)
      await expectRevert(reg.getFunction('reveal').staticCall(...list(a)), 'InvalidName')
    }
  })

  it('rejects a signature that is not 64 bytes', async () => {
    const w = wallet(env.devnet, 1)
    const reg = registry(env.devnet, w)
    const a = { ...(await revealArgs(uniqueName('sig'), w.address, account(6))), signature: '0x1234' }
    await commitAged(reg, a)
    await expectRevert(reg.getFunction('reveal').staticCall(...list(a)), 'InvalidSignatureLength')
  })

  it('namesOf lists every name of an account; namesOfRange bounds the read', async () => {
    const acct = account(7)
    const names = [uniqueName('r'), uniqueName('r'), uniqueName('r')]
    const c = client(env.devnet, 1)
    for (const n of names) await c.register(n, acct)
    const reg = registry(env.devnet)
    const id = `0x${acct.accountId}`
    expect(Array.from(await reg.getFunction('namesOf').staticCall(id))).toEqual(names)
    expect(await reg.getFunction('nameCountOf').staticCall(id)).toBe(3n)
    expect(Array.from(await reg.getFunction('namesOfRange').staticCall(id, 1, 1))).toEqual([names[1]])
    expect(Array.from(await reg.getFunction('namesOfRange').staticCall(id, 2, 10))).toEqual([names[2]])
    expect(Array.from(await reg.getFunction('namesOfRange').staticCall(id, 5, 10))).toEqual([])
    expect(Array.from(await reg.getFunction('namesOfRange').staticCall(id, 1, 2n ** 256n - 1n))).toEqual(names.slice(1))
  })
})

describe('front-running (automine off)', () => {
  /** Runs `fn` with automine off, always turning it back on. */
  async function withoutAutomine(fn: () => Promise<void>): Promise<void> {
    await env.devnet.setAutomine(false)
    try {
      await fn()
    } finally {
      await env.devnet.setAutomine(true)
    }
  }

  /** Waits until exactly one new transaction (not in `seen`) is in the mempool; returns it. */
  async function nextPendingTx(seen: Set<string>) {
    const hash = await waitFor(async () => (await pendingTxHashes(env.devnet)).find((h) => !seen.has(h)), 'a pending tx')
    seen.add(hash)
    const tx = await env.devnet.provider.getTransaction(hash)
    return { hash, parsed: registryInterface.parseTransaction({ data: tx!.data })! }
  }

  const fees = { maxFeePerGas: 100n * 10n ** 9n, maxPriorityFeePerGas: 50n * 10n ** 9n, gasLimit: 500_000n }

  it('an attacker who sees the reveal in the mempool cannot take the name', async () => {
    const name = uniqueName('prize')
    const victim = account(10)
    const thief = account(11)
    const attacker = wallet(env.devnet, 5)
    const reg = registry(env.devnet, attacker)
    await withoutAutomine(async () => {
      const seen = new Set(await pendingTxHashes(env.devnet))
      const registering = client(env.devnet, 4).register(name, victim)
      expect((await nextPendingTx(seen)).parsed.name).toBe('commit')
      await env.devnet.mine(1)
      const reveal = await nextPendingTx(seen)
      expect(reveal.parsed.name).toBe('reveal')
      const [observedName, observedOwner, observedSecret] = reveal.parsed.args as unknown as [string, string, string]
      expect(observedName).toBe(name)

      // Attack 1: replay the observed reveal (secret included) with the thief's key and ID,
      // paying more gas. The commitment binds the record, so this one does not exist.
      const stolen = { ...(await revealArgs(name, observedOwner, thief)), secret: observedSecret }
      const replay = await reg.getFunction('reveal').send(...list(stolen), fees)
      // Attack 2: its own commit and reveal, both paying more gas, in the same block.
      const own = await revealArgs(name, attacker.address, thief)
      const ownCommit = await reg.getFunction('commit').send(computeCommitment(own), fees)
      const ownReveal = await reg.getFunction('reveal').send(...list(own), fees)

      await env.devnet.mine(1)
      const result = await registering
      const victimReveal = await env.devnet.provider.getTransactionReceipt(result.txHashes[1]!)
      const replayReceipt = await env.devnet.provider.getTransactionReceipt(replay.hash)
      const ownCommitReceipt = await env.devnet.provider.getTransactionReceipt(ownCommit.hash)
      const ownRevealReceipt = await env.devnet.provider.getTransactionReceipt(ownReveal.hash)
      // Higher fees put the attacker first in the block, and still both attacks failed.
      expect(replayReceipt!.blockNumber).toBe(victimReveal!.blockNumber)
      expect(replayReceipt!.index).toBeLessThan(victimReveal!.index)
      expect(replayReceipt!.status).toBe(0)
      expect(ownCommitReceipt!.status).toBe(1)
      expect(ownRevealReceipt!.status).toBe(0)
      expect(victimReveal!.status).toBe(1)

      // Replayed later, the attacker's own reveal hits NameTaken.
      await env.devnet.mine(1)
      await expectRevert(reg.getFunction('reveal').staticCall(...list(own)), 'NameTaken')
      await expectRevert(reg.getFunction('reveal').staticCall(...list(stolen)), 'CommitmentUnknown')
    })
    const record = await client(env.devnet).lookup(name)
    expect(record.accountId).toBe(victim.accountId)
    expect(record.owner).toBe(env.devnet.accounts[4]!.address)
  })

  it('an attacker who copies an observed commit cannot use it for itself', async () => {
    const name = uniqueName('copy')
    const victim = account(12)
    const thief = account(13)
    const attacker = wallet(env.devnet, 6)
    const reg = registry(env.devnet, attacker)
    await withoutAutomine(async () => {
      const seen = new Set(await pendingTxHashes(env.devnet))
      const registering = client(env.devnet, 4).register(name, victim)
      const commitTx = await nextPendingTx(seen)
      const [commitment] = commitTx.parsed.args as unknown as [string]
      // Copy the commitment with a higher fee: it lands first, in the same block.
      const copy = await reg.getFunction('commit').send(commitment, fees)
      await env.devnet.mine(1)
      expect((await env.devnet.provider.getTransactionReceipt(copy.hash))!.status).toBe(1)
      // Without the secret (and the victim's record) the attacker cannot reveal it.
      const guess = await revealArgs(name, attacker.address, thief)
      await expectRevert(reg.getFunction('reveal').staticCall(...list(guess)), 'CommitmentUnknown')
      await nextPendingTx(seen) // the victim's reveal
      await env.devnet.mine(1)
      await registering
    })
    expect((await client(env.devnet).lookup(name)).accountId).toBe(victim.accountId)
  })

  it('re-sending a live commitment later does not push the victim back', async () => {
    const w = wallet(env.devnet, 1)
    const reg = registry(env.devnet, w)
    const a = await revealArgs(uniqueName('keep'), w.address, account(14))
    const c = computeCommitment(a)
    const first = await (await reg.getFunction('commit').send(c)).wait()
    await (await (registry(env.devnet, wallet(env.devnet, 7)) as Contract).getFunction('commit').send(c)).wait()
    expect(await reg.getFunction('commitments').staticCall(c)).toBe(BigInt(first!.blockNumber))
  })
})

