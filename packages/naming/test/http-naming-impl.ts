/** Naming over HTTP (@baran/naming/http) as the naming conformance suite drives it: see httpNamingImpl. */
import type { ActorDefinition } from '@baran/actor'
import { identityCreate } from '@baran/bus'
import { type Devnet, type NameRecord, RegistryClient, startNameServer } from '@baran/naming'
import { type Cleanup, type InlineNode, inlineNode } from '@baran/testkit'
import type { NamingImpl } from '@baran/testkit/conformance'
import { generateKeyPair, signDetached, toBase64Url } from '@baran/trust'
import { Wallet } from 'ethers'

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
