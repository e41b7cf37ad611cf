import { Wallet } from 'ethers'
import { describe, expect, it } from 'vitest'
import { CachedResolver } from '../src/lib/cached-resolver.ts'
import { createProvider, startDevnet } from '../src/lib/devnet.ts'
import { RegistryClient } from '../src/lib/registry-client.ts'
import { account, client, uniqueName, useDevnet } from './helpers.ts'

const env = useDevnet()

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let t = start
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('CachedResolver over a real RegistryClient', () => {
  it('answers repeated lookups and reverse lookups from the cache until the TTL passes', async () => {
    const name = uniqueName('cache')
    const a = account(1)
    await client(env.devnet, 1).register(name, a)
    const clock = manualClock()
    const r = new CachedResolver(client(env.devnet), { ttlMs: 1000, now: clock.now })
    const first = await r.lookup(name)
    expect(await r.lookup(name)).toEqual(first)
    expect(await r.reverse(a.accountId)).toBe(name)
    expect(await r.reverse(`0x${a.accountId}`)).toBe(name) // same key
    expect(r.stats()).toMatchObject({ hits: 2, misses: 2, size: 2 })
    clock.advance(1001)
    await r.lookup(name)
    expect(r.stats()).toMatchObject({ hits: 2, misses: 3 })
  })

  it('caches "not found" for the shorter negative TTL, then sees the new registration', async () => {
    const name = uniqueName('neg')
    const clock = manualClock()
    const r = new CachedResolver(client(env.devnet), { ttlMs: 60_000, negativeTtlMs: 500, now: clock.now })
    await expect(r.lookup(name)).rejects.toMatchObject({ name: 'NameNotFoundError' })
    await client(env.devnet, 1).register(name, account(2))
    await expect(r.lookup(name)).rejects.toMatchObject({ name: 'NameNotFoundError' }) // still cached
    clock.advance(501)
    expect((await r.lookup(name)).accountId).toBe(account(2).accountId)
  })

  it('shares one registry read between concurrent lookups of the same name', async () => {
    const name = uniqueName('flight')
    await client(env.devnet, 1).register(name, account(3))
    const r = new CachedResolver(client(env.devnet))
    const results = await Promise.all(Array.from({ length: 10 }, () => r.lookup(name)))
    expect(new Set(results.map((x) => x.accountId)).size).toBe(1)
    expect(r.stats().misses).toBe(10) // all missed the cache...
    expect(r.stats().size).toBe(1) // ...but were served by one load
  })

  it('keeps at most `max` entries, dropping the least recently used', async () => {
    const names = [uniqueName('lru'), uniqueName('lru'), uniqueName('lru')]
    const c = client(env.devnet, 1)
    for (const [i, n] of names.entries()) await c.register(n, account(10 + i))
    const r = new CachedResolver(client(env.devnet), { max: 2 })
    await r.lookup(names[0]!)
    await r.lookup(names[1]!)
    await r.lookup(names[0]!) // names[0] is now the most recent
    await r.lookup(names[2]!) // evicts names[1]
    expect(r.stats().size).toBe(2)
    const misses = r.stats().misses
    await r.lookup(names[0]!)
    expect(r.stats().misses).toBe(misses)
    await r.lookup(names[1]!)
    expect(r.stats().misses).toBe(misses + 1)
    r.invalidate()
    expect(r.stats().size).toBe(0)
  })

  it('serves cached answers while the chain is down, and never caches the outage', async () => {
    const d = await startDevnet()
    const provider = createProvider(d.rpcUrl, { chainId: d.chainId, timeoutMs: 2000 })
    try {
      const name = uniqueName('outage')
      const signer = new Wallet(d.accounts[1]!.privateKey, provider)
      const c = new RegistryClient({ provider, registry: d.registry, signer })
      await c.register(name, account(20))
      const r = new CachedResolver(c)
      await r.lookup(name)
      await d.stop()
      expect((await r.lookup(name)).accountId).toBe(account(20).accountId)
      const other = uniqueName('outage')
      await expect(r.lookup(other)).rejects.toMatchObject({ name: 'ChainUnavailableError' })
      await expect(r.lookup(other)).rejects.toMatchObject({ name: 'ChainUnavailableError' })
      expect(r.stats().size).toBe(1)
    } finally {
      provider.destroy()
      await d.stop()
    }
  })

  it('does not cache invalid input', async () => {
    const r = new CachedResolver(client(env.devnet))
    await expect(r.lookup('Bad Name')).rejects.toMatchObject({ name: 'InvalidNameError' })
    expect(r.stats().size).toBe(0)
  })
})
