import type { ActorDefinition } from '@baran/actor'
import { identityCreate } from '@baran/bus'
import { type Devnet, type NameRecord, RegistryClient, startNameServer } from '@baran/naming'
import type { Cleanup } from '@baran/testkit'
import type { NamingImpl } from '@baran/testkit/conformance'
import { generateKeyPair, signDetached, toBase64Url } from '@baran/trust'
import { Wallet } from 'ethers'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeEntry } from '../../../examples/custom-naming/make-record.ts'
import type { NamesFile } from '../../../examples/custom-naming/static-naming.ts'
import { type InlineNode, inlineNode } from './inline-node.ts'

let counter = 0
const freshName = (prefix: string) => `${prefix}${process.pid.toString(36)}s${(counter++).toString(36)}`.slice(0, 32)

/** The static-file naming (examples/custom-naming) on an inline node, with records written to its names file. */
export async function staticNamingImpl(cleanup: Cleanup, def: ActorDefinition<unknown>, nodeName: string): Promise<NamingImpl> {
  const n = await inlineNode(cleanup, nodeName, [])
  const file = join(n.dataDir, 'names.json')
  const names: NamesFile = { chainId: '0', registry: `0x${'1a'.repeat(20)}`, names: {} }
  const save = () => writeFile(file, JSON.stringify(names, null, 2))
  await save()
  await n.start(def, { file, checkMs: 100 })
  const owner = `0x${'0b'.repeat(20)}`
  return {
    node: n.name,
    bus: n.bus,
    freshName,
    async publish(name) {
      const kp = generateKeyPair()
      names.names[name] = makeEntry(name, kp, owner, names)
      await save()
      return { name, accountId: kp.id, publicKey: kp.signer, owner }
    },
    async outage() {
      await rename(file, `${file}.away`)
      return () => rename(`${file}.away`, file)
    },
    async publishForged(name) {
      const honest = makeEntry(name, generateKeyPair(), owner, names)
      names.names[name] = { ...honest, accountId: generateKeyPair().id } // someone else's account ID
      await save()
    },
  }
}

/**
 * Naming over HTTP (@baran/naming/http) on an inline node with identity, against a real name server on a real
 * chain. The server pays gas (dev account 5); `publish` registers through the chain (dev account 6). To put a
 * forged record where the actor reads names, the server is made to lie: its resolver answers some names with
 * records whose claim does not verify, as a compromised server would.
 */
export async function httpNamingImpl(
  cleanup: Cleanup,
  def: ActorDefinition<unknown>,
  d: Devnet,
  o: { identity: ActorDefinition<unknown>; kdf: object; freshName: (prefix: string) => string; node?: InlineNode; start?: boolean },
): Promise<NamingImpl & { config: { nameServer: string; checkMs: number } }> {
  const serverClient = new RegistryClient({ provider: d.provider, registry: d.registry, chainId: d.chainId, signer: new Wallet(d.accounts[5]!.privateKey, d.provider) })
  const forged = new Map<string, NameRecord>()
  const resolver = { lookup: async (name: string) => forged.get(name) ?? serverClient.lookup(name), reverse: (id: string) => serverClient.reverse(id) }
  let server = await startNameServer({ client: serverClient, resolver, sponsor: true, rateLimit: false })
  cleanup.add('close name server', () => server.close())
  const n = o.node ?? (await inlineNode(cleanup, 'nh', [[o.identity, { kdf: o.kdf }]]))
  const acc = await n.bus.request(identityCreate, {})
  const config = { nameServer: server.url, checkMs: 200 }
  if (o.start !== false) await n.start(def, config)
  const writer = new Wallet(d.accounts[6]!.privateKey, d.provider)
  const chain = new RegistryClient({ provider: d.provider, registry: d.registry, chainId: d.chainId, signer: writer })
  return {
    config,
    node: n.name,
    bus: n.bus,
    freshName: o.freshName,
    registers: { accountId: acc.accountId },
    async publish(name) {
      const kp = generateKeyPair()
      await chain.register(name, { accountId: kp.id, publicKey: kp.signer, signClaim: async (m) => signDetached(m, kp.secretKey) })
      return { name, accountId: kp.id, publicKey: kp.signer, owner: writer.address }
    },
    async publishForged(name) {
      const other = generateKeyPair()
      forged.set(name, { name, accountId: generateKeyPair().id, publicKey: other.signer, owner: writer.address, signature: toBase64Url(new Uint8Array(64).fill(1)) })
    },
    async outage() {
      const port = server.port
      await server.close()
      return async () => {
        server = await startNameServer({ client: serverClient, resolver, sponsor: true, rateLimit: false, port })
      }
    },
  }
}
