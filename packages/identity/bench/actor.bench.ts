/**
 * Signing and chain verification through the identity actor (over the bus), through the library, and with raw
 * tweetnacl, in one run: what the actor boundary costs, and what Node's Ed25519 fast path buys.
 */
import { identityCreate, identityPeerBinding, identitySignPresence, identityVerifyChain } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { signRecord, verifyChain } from '@baran/trust'
import nacl from 'tweetnacl'
import { identityActor } from '../src/index.ts'

const cleanup = new Cleanup()
const WINDOW_MS = 1500

/** Operations per second, running `op` with `concurrency` in flight for a fixed window. */
async function rate(op: () => unknown, concurrency = 1): Promise<number> {
  const end = performance.now() + WINDOW_MS
  let n = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await op()
        n++
      }
    }),
  )
  return Math.round((n * 1000) / WINDOW_MS)
}

try {
  const nats = await setupNats({ cleanup, node: 'bench' })
  const dataDir = await tempDir(cleanup)
  await runInline(identityActor, { cleanup, node: 'bench', url: nats.url, dataDir, config: { kdf: { N: 1024, r: 8, p: 1 } } })
  const bus = nats.bus
  const acc = await bus.request(identityCreate, {})
  const chain = await bus.request(identityPeerBinding, { peerId: '12D3KooWBenchPeer' })

  const kp = nacl.sign.keyPair()
  const msg = nacl.randomBytes(400)
  const sig = nacl.sign.detached(msg, kp.secretKey)
  const now = Date.now()
  const presenceBody = { accountId: acc.accountId, deviceId: acc.deviceId, peerId: '12D3KooWBenchPeer', addrs: ['/ip4/127.0.0.1/tcp/4001'] }

  const result = {
    rawTweetnacl: { signPerSec: await rate(() => nacl.sign.detached(msg, kp.secretKey)), verifyPerSec: await rate(() => nacl.sign.detached.verify(msg, sig, kp.publicKey)) },
    library: {
      signRecordPerSec: await rate(() => signRecord({ type: 'presence', v: 1, seq: 1, issuedAt: now, expiresAt: now + 60_000, body: presenceBody }, kp.secretKey)),
      verifyChainPerSec: await rate(() => verifyChain({ ...chain, expect: { peerId: '12D3KooWBenchPeer' } })),
    },
    actorOverBus: {
      signPresencePerSec: await rate(() => bus.request(identitySignPresence, { peerId: '12D3KooWBenchPeer', addrs: presenceBody.addrs }), 8),
      verifyChainPerSec: await rate(() => bus.request(identityVerifyChain, chain), 8),
      verifyChainSequentialPerSec: await rate(() => bus.request(identityVerifyChain, chain)),
    },
    note: 'library and actor use Node crypto Ed25519 (tweetnacl in browsers); actor rates include JSON, zod and a NATS round trip; concurrency 8',
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await cleanup.run()
}
