/**
 * Both naming implementations run the naming and lifecycle conformance suites (@baran/testkit/conformance), inline
 * on real nats-servers with the real identity actor: the chain naming (@baran/naming) on a real anvil chain, and
 * naming over HTTP (@baran/naming/http) against a real name server on a real chain.
 */
import type { ActorDefinition } from '@baran/actor'
import { identityCreate, namingLookup } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { computeCommitment, type Devnet, namingActor, RegistryClient, registryAbi, startDevnet } from '@baran/naming'
import { actor as httpNamingActor } from '@baran/naming/http'
import { Cleanup, type InlineNode, inlineNode, tempDir } from '@baran/testkit'
import { lifecycleOf, namingSuite, type NamingImpl, TEST_KDF } from '@baran/testkit/conformance'
import { generateKeyPair, signDetached } from '@baran/trust'
import { Contract, hexlify, randomBytes, Wallet } from 'ethers'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { httpNamingImpl } from './http-naming-impl.ts'

const kdf = TEST_KDF
const identity = identityActor as ActorDefinition<unknown>
const naming = namingActor as ActorDefinition<unknown>
const httpNaming = httpNamingActor as ActorDefinition<unknown>
const fileCleanup = new Cleanup()
afterAll(() => fileCleanup.run())

let counter = 0
const freshName = (prefix: string) => `${prefix}${process.pid.toString(36)}c${(counter++).toString(36)}`.slice(0, 32)

/** One anvil for the whole file, started on first use. */
let devnetP: Promise<Devnet> | undefined
function devnet(): Promise<Devnet> {
  devnetP ??= startDevnet().then((d) => {
    fileCleanup.add('stop devnet', () => d.stop())
    return d
  })
  return devnetP
}
const namingConfig = (d: Devnet, extra: object = {}) => ({ rpcUrl: d.rpcUrl, registry: d.registry, chainId: Number(d.chainId), chainCheckMs: 200, cacheTtlMs: 0, ...extra })

// ---- the chain implementation (@baran/naming) ----
/** A loopback port that was free a moment ago (the chain restarts on it after an outage). */
async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

async function chainNaming(cleanup: Cleanup): Promise<NamingImpl & { node: string; n: InlineNode }> {
  // Its own chain, with a state file: the outage rule stops it and starts it again on the same port and state.
  const dir = await tempDir(cleanup, 'baran-chain-')
  const port = await freePort()
  const stateFile = join(dir, 'chain.json')
  let d = await startDevnet({ port, stateFile })
  cleanup.add('stop naming devnet', () => d.stop())
  const n = await inlineNode(cleanup, 'na', [[identity, { kdf }]])
  const acc = await n.bus.request(identityCreate, {})
  await n.start(naming, namingConfig(d, { faucetKey: d.accounts[1]!.privateKey }))
  // Built per call: a restarted chain comes with a new provider.
  const writer = () => new Wallet(d.accounts[2]!.privateKey, d.provider)
  const client = () => new RegistryClient({ provider: d.provider, registry: d.registry, chainId: d.chainId, signer: writer() })
  return {
    n,
    node: n.name,
    bus: n.bus,
    freshName,
    registers: { accountId: acc.accountId },
    async outage() {
      await d.stop()
      return async () => {
        d = await startDevnet({ port, stateFile, registry: d.registry })
      }
    },
    async publish(name) {
      const kp = generateKeyPair()
      await client().register(name, { accountId: kp.id, publicKey: kp.signer, signClaim: async (m) => signDetached(m, kp.secretKey) })
      return { name, accountId: kp.id, publicKey: kp.signer, owner: writer().address }
    },
    async publishForged(name) {
      // A lying registrant: someone's account ID, another key, a junk signature, straight to the contract.
      const reg = new Contract(d.registry, registryAbi, new Wallet(d.accounts[3]!.privateKey, d.provider))
      const a = {
        name,
        owner: d.accounts[3]!.address,
        secret: hexlify(randomBytes(32)),
        accountId: `0x${generateKeyPair().id}`,
        publicKey: hexlify(new Uint8Array(32).fill(7)),
        signature: hexlify(new Uint8Array(64).fill(1)),
      }
      await (await reg.getFunction('commit').send(computeCommitment(a))).wait()
      await (await reg.getFunction('reveal').send(a.name, a.owner, a.secret, a.accountId, a.publicKey, a.signature)).wait()
    },
  }
}
{
  const cleanup = new Cleanup()
  namingSuite({ setup: () => chainNaming(cleanup), teardown: () => cleanup.run() })
}

// ---- over HTTP, a client of a Jami-compatible name server (@baran/naming/http) ----
{
  const cleanup = new Cleanup()
  namingSuite({ setup: async () => httpNamingImpl(cleanup, httpNaming, await devnet(), { identity, kdf, freshName }), teardown: () => cleanup.run() })
}

// ---- lifecycle: both implementations ----
const probeNaming = (n: InlineNode) => n.bus.request(namingLookup, { name: 'free-name-probe' }, { timeoutMs: 5000 })
const prior = { identity, account: false }
lifecycleOf('lhn', {
  actor: 'naming',
  verb: 'lookup',
  prior,
  impl: async (n, cleanup) => [httpNaming, (await httpNamingImpl(cleanup, httpNaming, await devnet(), { identity, kdf, freshName, start: false, node: n })).config],
  probe: probeNaming,
})
lifecycleOf('ln', { actor: 'naming', verb: 'lookup', prior, impl: async () => [naming, namingConfig(await devnet())], probe: probeNaming })
