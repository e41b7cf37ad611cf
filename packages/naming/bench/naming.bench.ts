/**
 * Latency of name lookups and registrations on an embedded anvil, in one run:
 * RegistryClient.lookup (verified) vs a direct ethers contract call (unverified) vs
 * CachedResolver (cold and cached), the time to register a name (commit + reveal), and
 * name-server HTTP lookups per second. Every loop is bounded.
 * Run: npx node --conditions=@baran/source packages/naming/bench/naming.bench.ts  (from the repository root)
 * Prints one JSON object (times in ms).
 */
import { Contract, Wallet } from 'ethers'
import { keyPairFromSeed, signDetached } from '@baran/trust'
import { CachedResolver, RegistryClient, registryAbi, startDevnet, startNameServer } from '@baran/naming'
import { stats, time } from './lib.ts'

const NAMES = Number(process.env.BENCH_NAMES ?? 40)
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 400)
const HTTP_REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 2000)
const HTTP_CONCURRENCY = Number(process.env.BENCH_HTTP_CONCURRENCY ?? 8)

const devnet = await startDevnet()
try {
  const signer = new Wallet(devnet.accounts[1]!.privateKey, devnet.provider)
  const client = new RegistryClient({ provider: devnet.provider, registry: devnet.registry, signer, chainId: devnet.chainId })
  const names = Array.from({ length: NAMES }, (_, i) => `bench-${i}`)

  // Registration: commit, wait for the receipt, reveal, wait for the receipt (automine).
  const register: number[] = []
  for (const [i, name] of names.entries()) {
    const kp = keyPairFromSeed(new Uint8Array(32).fill(i + 1))
    register.push(
      await time(() =>
        client.register(name, { accountId: kp.id, publicKey: kp.signer, signClaim: async (m) => signDetached(m, kp.secretKey) }),
      ),
    )
  }

  // Lookups, interleaved per iteration so that machine noise hits every contender alike.
  const direct = new Contract(devnet.registry, registryAbi, devnet.provider).getFunction('lookup')
  const cached = new CachedResolver(client, { max: NAMES })
  const samples = { directCall: [] as number[], client: [] as number[], cachedCold: [] as number[], cachedHit: [] as number[] }
  for (let i = 0; i < LOOKUPS; i++) {
    const name = names[i % NAMES]!
    samples.directCall.push(await time(() => direct.staticCall(name)))
    samples.client.push(await time(() => client.lookup(name)))
    cached.invalidate(name) // cold: a miss that reads and verifies on chain
    samples.cachedCold.push(await time(() => cached.lookup(name)))
    samples.cachedHit.push(await time(() => cached.lookup(name)))
  }

  // Name server over HTTP (keep-alive fetch), uncached and with a CachedResolver.
  const http: Record<string, { requests: number; seconds: number; perSecond: number }> = {}
  for (const [label, resolver] of [
    ['registryClient', client],
    ['cachedResolver', new CachedResolver(client)],
  ] as const) {
    const server = await startNameServer({ client, resolver, sponsor: true, rateLimit: false })
    try {
      let next = 0
      const start = performance.now()
      await Promise.all(
        Array.from({ length: HTTP_CONCURRENCY }, async () => {
          while (next < HTTP_REQUESTS) {
            const name = names[next++ % NAMES]!
            const res = await fetch(`${server.url}/name/${name}`)
            if (res.status !== 200) throw new Error(`GET /name/${name} → ${res.status}`)
            await res.arrayBuffer()
          }
        }),
      )
      const seconds = (performance.now() - start) / 1000
      http[label] = { requests: HTTP_REQUESTS, seconds: Math.round(seconds * 1000) / 1000, perSecond: Math.round(HTTP_REQUESTS / seconds) }
    } finally {
      await server.close()
    }
  }

  const result = {
    bench: 'naming',
    node: process.version,
    chain: 'anvil (loopback, automine)',
    registerMs: stats(register),
    lookupMs: {
      directEthersCall: stats(samples.directCall),
      registryClientVerified: stats(samples.client),
      cachedResolverCold: stats(samples.cachedCold),
      cachedResolverHit: stats(samples.cachedHit),
    },
    nameServerHttpLookups: { concurrency: HTTP_CONCURRENCY, ...http },
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} finally {
  await devnet.stop()
}

