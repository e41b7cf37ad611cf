/**
 * The naming actor over the bus, on an embedded anvil and a real nats-server, in one run: naming.lookup cold
 * (cache off) and cached, against a direct ethers call (unverified) of the same names; and naming.register end
 * to end (identity signs the claim and both transactions over the bus; commit + reveal). Every loop is bounded.
 * The identity actor is the naming tests' stand-in (real keys), as actor packages do not import each other.
 * Run: npx node --conditions=@baran/source packages/naming/bench/actor.bench.ts  (from the repository root)
 * Prints one JSON object (times in ms).
 */
import { namingLookup, namingRegister } from '@baran/bus'
import { namingActor, registryAbi, startDevnet } from '@baran/naming'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { Contract } from 'ethers'
import { identityStandIn } from '../test/identity-stand-in.ts'
import { stats, time } from './lib.ts'

const NAMES = Number(process.env.BENCH_NAMES ?? 20)
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 400)

const cleanup = new Cleanup()
try {
  const devnet = await startDevnet()
  cleanup.add('stop devnet', () => devnet.stop())
  const nats = await setupNats({ cleanup })
  const chain = { rpcUrl: devnet.rpcUrl, registry: devnet.registry, chainId: Number(devnet.chainId), faucetKey: devnet.accounts[1]!.privateKey }
  // One node per registering account (a node holds one account; a name per node here).
  const register: number[] = []
  const names: string[] = []
  for (let i = 0; i < NAMES; i++) {
    const node = `r${i}`
    const dataDir = await tempDir(cleanup)
    await runInline(identityStandIn, { cleanup, node, url: nats.url, dataDir, config: { seed: i + 1 } })
    await runInline(namingActor, { cleanup, node, url: nats.url, dataDir, config: chain })
    const name = `actor-bench-${i}`
    register.push(await time(() => nats.bus.request(namingRegister, { name }, { node, timeoutMs: 60_000 })))
    names.push(name)
  }
  const dataDir = await tempDir(cleanup)
  await runInline(namingActor, { cleanup, node: 'cold', url: nats.url, dataDir, config: { ...chain, cacheTtlMs: 0 } })
  await runInline(namingActor, { cleanup, node: 'cached', url: nats.url, dataDir, config: chain })

  const direct = new Contract(devnet.registry, registryAbi, devnet.provider).getFunction('lookup')
  const samples = { directCall: [] as number[], actorCold: [] as number[], actorCached: [] as number[] }
  for (const name of names) await nats.bus.request(namingLookup, { name }, { node: 'cached' }) // warm the cache
  // Interleaved per iteration, so that machine noise hits every contender alike.
  for (let i = 0; i < LOOKUPS; i++) {
    const name = names[i % names.length]!
    samples.directCall.push(await time(() => direct.staticCall(name)))
    samples.actorCold.push(await time(() => nats.bus.request(namingLookup, { name }, { node: 'cold' })))
    samples.actorCached.push(await time(() => nats.bus.request(namingLookup, { name }, { node: 'cached' })))
  }
  const result = {
    bench: 'naming-actor',
    node: process.version,
    chain: 'anvil (loopback, automine)',
    bus: 'nats-server (loopback)',
    registerViaActorMs: stats(register),
    lookupMs: {
      directEthersCall: stats(samples.directCall),
      actorCold: stats(samples.actorCold),
      actorCached: stats(samples.actorCached),
    },
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} finally {
  await cleanup.run()
}
