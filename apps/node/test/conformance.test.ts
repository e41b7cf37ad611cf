/**
 * Every shipped implementation runs the conformance suite of its contract (@baran/testkit/conformance), inline on
 * real nats-servers, a real anvil chain and real libp2p nodes over loopback; the example static-file naming
 * (examples/custom-naming) runs the naming suite too. Setups are shared per suite to keep the file short.
 */
import type { ActorDefinition } from '@baran/actor'
import { discoveryInfo, discoveryLookup, identityCreate, identityStatus, namingLookup, outboxPending, transportInfo, transportSend } from '@baran/bus'
import { discoveryActor } from '@baran/discovery'
import { actor as lanDiscoveryActor } from '@baran/discovery/lan'
import { identityActor } from '@baran/identity'
import { computeCommitment, type Devnet, namingActor, RegistryClient, registryAbi, startDevnet } from '@baran/naming'
import { actor as httpNamingActor } from '@baran/naming/http'
import { actor as outboxActor } from '@baran/outbox'
import { Cleanup, tempDir } from '@baran/testkit'
import { discoverySuite, identitySuite, lifecycleSuite, namingSuite, type NamingImpl, outboxSuite, transportSuite } from '@baran/testkit/conformance'
import { generateKeyPair, signDetached } from '@baran/trust'
import { transportActor } from '@baran/transport'
import { actor as wsTransportActor } from '@baran/transport/ws'
import { Contract, hexlify, randomBytes, Wallet } from 'ethers'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { actor as staticNamingActor } from '../../../examples/custom-naming/static-naming.ts'
import { httpNamingImpl, staticNamingImpl } from './conformance-impls.ts'
import { type InlineNode, inlineNode } from './inline-node.ts'

const kdf = { N: 1024, r: 8, p: 1 }
const defs = {
  identity: identityActor as ActorDefinition<unknown>,
  naming: namingActor as ActorDefinition<unknown>,
  discovery: discoveryActor as ActorDefinition<unknown>,
  transport: transportActor as ActorDefinition<unknown>,
  outbox: outboxActor as ActorDefinition<unknown>,
}
/** The alternative implementations (issue 9): naming over HTTP, LAN-only discovery, WebSockets-only transport. */
const alt = {
  naming: httpNamingActor as ActorDefinition<unknown>,
  discovery: lanDiscoveryActor as ActorDefinition<unknown>,
  transport: wsTransportActor as ActorDefinition<unknown>,
}
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

// ---- identity ----
{
  const cleanup = new Cleanup()
  identitySuite({
    async setup() {
      const a = await inlineNode(cleanup, 'ia', [[defs.identity, { kdf }]])
      const b = await inlineNode(cleanup, 'ib', [[defs.identity, { kdf }]])
      return { a: { node: a.name, bus: a.bus }, b: { node: b.name, bus: b.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

// ---- naming: the chain implementation (@baran/naming) ----
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
  const n = await inlineNode(cleanup, 'na', [[defs.identity, { kdf }]])
  const acc = await n.bus.request(identityCreate, {})
  await n.start(defs.naming, namingConfig(d, { faucetKey: d.accounts[1]!.privateKey }))
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

// ---- naming: the example static-file implementation (examples/custom-naming) ----
{
  const cleanup = new Cleanup()
  namingSuite({ setup: () => staticNamingImpl(cleanup, staticNamingActor as ActorDefinition<unknown>, 'ns'), teardown: () => cleanup.run() })
}

// ---- naming: over HTTP, a client of a Jami-compatible name server (@baran/naming/http) ----
{
  const cleanup = new Cleanup()
  namingSuite({ setup: async () => httpNamingImpl(cleanup, alt.naming, await devnet(), { identity: defs.identity, kdf, freshName }), teardown: () => cleanup.run() })
}

// ---- discovery, transport, outbox: two nodes over loopback libp2p ----
const LISTEN = { listen: ['/ip4/127.0.0.1/tcp/0'] }
/** Discovery's dialable addresses (with /p2p/), to bootstrap another node from. */
async function bootstrapOf(n: InlineNode): Promise<string[]> {
  const info = await n.bus.request(discoveryInfo, {})
  return info.addrs.filter((a) => a.startsWith('/ip4/127.0.0.1/')).map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${info.peerId}`))
}
/** A node with identity (an account) and the given actors; discovery bootstraps from `from`. */
async function fullNode(cleanup: Cleanup, name: string, actors: Array<'discovery' | 'transport' | 'outbox'>, from?: InlineNode) {
  const n = await inlineNode(cleanup, name, [[defs.identity, { kdf }]])
  const acc = await n.bus.request(identityCreate, { deviceName: name })
  for (const a of actors) {
    if (a === 'discovery') await n.start(defs.discovery, { ...LISTEN, ...(from ? { bootstrap: await bootstrapOf(from) } : {}) })
    if (a === 'transport') await n.start(defs.transport, LISTEN)
    if (a === 'outbox') await n.start(defs.outbox, { backoff: { initialMs: 200, maxMs: 1000 } })
  }
  return { n, acc }
}
{
  const cleanup = new Cleanup()
  discoverySuite({
    async setup() {
      const a = await fullNode(cleanup, 'da', ['transport', 'discovery'])
      const b = await fullNode(cleanup, 'db', ['transport', 'discovery'], a.n)
      return { a: { node: a.n.name, bus: a.n.bus, accountId: a.acc.accountId, deviceId: a.acc.deviceId }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}
{
  const cleanup = new Cleanup()
  transportSuite({
    async setup() {
      const a = await fullNode(cleanup, 'ta', ['transport'])
      const b = await fullNode(cleanup, 'tb', ['transport', 'outbox'])
      return { a: { node: a.n.name, bus: a.n.bus }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}
{
  const cleanup = new Cleanup()
  outboxSuite({
    async setup() {
      const a = await fullNode(cleanup, 'oa', ['transport', 'discovery', 'outbox'])
      const b = await fullNode(cleanup, 'ob', ['transport', 'discovery', 'outbox'], a.n)
      return { a: { node: a.n.name, bus: a.n.bus, accountId: a.acc.accountId }, b: { node: b.n.name, bus: b.n.bus, accountId: b.acc.accountId, deviceId: b.acc.deviceId } }
    },
    teardown: () => cleanup.run(),
  })
}

// ---- discovery: LAN-only (@baran/discovery/lan), peers met from a static list (mDNS off: no multicast in tests) ----
/** A node with identity (an account), the shipped transport and LAN discovery; it lists `from` as a LAN peer. */
async function lanNode(cleanup: Cleanup, name: string, from?: InlineNode) {
  const n = await inlineNode(cleanup, name, [[defs.identity, { kdf }]])
  const acc = await n.bus.request(identityCreate, { deviceName: name })
  await n.start(defs.transport, LISTEN)
  await n.start(alt.discovery, { ...LISTEN, mdns: false, ...(from ? { peers: await bootstrapOf(from) } : {}) })
  return { n, acc }
}
{
  const cleanup = new Cleanup()
  discoverySuite({
    async setup() {
      const a = await lanNode(cleanup, 'la')
      const b = await lanNode(cleanup, 'lb', a.n)
      return { a: { node: a.n.name, bus: a.n.bus, accountId: a.acc.accountId, deviceId: a.acc.deviceId }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

// ---- transport: WebSockets only (@baran/transport/ws) ----
const WS_LISTEN = { listen: ['/ip4/127.0.0.1/tcp/0/ws'] }
{
  const cleanup = new Cleanup()
  transportSuite({
    async setup() {
      const a = await inlineNode(cleanup, 'wa', [[defs.identity, { kdf }]])
      await a.bus.request(identityCreate, { deviceName: 'wa' })
      await a.start(alt.transport, WS_LISTEN)
      const b = await fullNode(cleanup, 'wb', ['outbox'])
      await b.n.start(alt.transport, WS_LISTEN)
      return { a: { node: a.name, bus: a.bus }, b: { node: b.n.name, bus: b.n.bus } }
    },
    teardown: () => cleanup.run(),
  })
}

/**
 * One implementation's lifecycle suite on a fresh inline node. `needs` is what runs before it: nothing, identity, or
 * identity with an account; `impl` names the definition and its config (it may prepare what the config points at).
 */
function lifecycleOf(
  name: string,
  spec: {
    actor: string
    verb: string
    needs: 'nothing' | 'identity' | 'account'
    impl: (n: InlineNode, cleanup: Cleanup) => Promise<[ActorDefinition<unknown>, unknown]> | [ActorDefinition<unknown>, unknown]
    probe: (n: InlineNode) => Promise<unknown>
    busy?: (n: InlineNode) => Promise<unknown>
  },
): void {
  const cleanup = new Cleanup()
  lifecycleSuite({
    async setup() {
      const n = await inlineNode(cleanup, name, spec.needs === 'nothing' ? [] : [[defs.identity, { kdf }]])
      if (spec.needs === 'account') await n.bus.request(identityCreate, {})
      const [def, config] = await spec.impl(n, cleanup)
      const busy = spec.busy
      return {
        actor: spec.actor,
        node: n.name,
        bus: n.bus,
        verb: spec.verb,
        start: () => n.start(def, config),
        probe: () => spec.probe(n),
        ...(busy ? { busy: () => busy(n) } : {}),
      }
    },
    teardown: () => cleanup.run(),
  })
}

const probeNaming = (n: InlineNode) => n.bus.request(namingLookup, { name: 'free-name-probe' }, { timeoutMs: 5000 })
const probeDiscovery = (n: InlineNode) => n.bus.request(discoveryLookup, { accountId: 'ee'.repeat(20) }, { timeoutMs: 10_000 })
// info is served while degraded by design: send is the request degraded refuses.
const probeTransport = async (n: InlineNode) => {
  const me = await n.bus.request(transportInfo, {})
  return n.bus.request(transportSend, { peerId: me.peerId, addrs: [], id: 'probe', payload: '', timeoutMs: 1000 }, { timeoutMs: 5000 })
}

// ---- lifecycle: every alternative implementation ----
lifecycleOf('lhn', {
  actor: 'naming',
  verb: 'lookup',
  needs: 'identity',
  impl: async (n, cleanup) => [alt.naming, (await httpNamingImpl(cleanup, alt.naming, await devnet(), { identity: defs.identity, kdf, freshName, start: false, node: n })).config],
  probe: probeNaming,
})
lifecycleOf('lld', { actor: 'discovery', verb: 'lookup', needs: 'account', impl: () => [alt.discovery, { ...LISTEN, mdns: false }], probe: probeDiscovery })
lifecycleOf('lwt', { actor: 'transport', verb: 'send', needs: 'account', impl: () => [alt.transport, WS_LISTEN], probe: probeTransport })

// ---- lifecycle: every shipped actor ----
lifecycleOf('li', {
  actor: 'identity',
  verb: 'verifyChain',
  needs: 'nothing',
  impl: () => [defs.identity, { kdf }],
  probe: (n) => n.bus.request(identityStatus, {}, { timeoutMs: 5000 }),
  busy: (n) => n.bus.request(identityCreate, {}, { timeoutMs: 10_000 }),
})
lifecycleOf('ln', { actor: 'naming', verb: 'lookup', needs: 'identity', impl: async () => [defs.naming, namingConfig(await devnet())], probe: probeNaming })
lifecycleOf('lo', { actor: 'outbox', verb: 'send', needs: 'account', impl: () => [defs.outbox, {}], probe: (n) => n.bus.request(outboxPending, {}, { timeoutMs: 5000 }) })
lifecycleOf('lt', { actor: 'transport', verb: 'send', needs: 'account', impl: () => [defs.transport, LISTEN], probe: probeTransport })
lifecycleOf('ld', { actor: 'discovery', verb: 'lookup', needs: 'account', impl: () => [defs.discovery, LISTEN], probe: probeDiscovery })
