/**
 * Sealed envelopes: seal + open of a 1 KiB payload to 1 and to 5 recipient devices, in-process (the @baran/trust
 * functions with the keys at hand) and through the identity actors over the bus (identity.seal on the sender's
 * node, identity.open on a recipient's). Also the envelope sizes, and which X25519 implementation ran.
 */
import { Bus, identityCreate, identityOpen, identityPeerBinding, identitySeal } from '@baran/bus'
import { Cleanup, runInline, setupNats, tempDir } from '@baran/testkit'
import { envelopeRecipientOf, openEnvelope, sealEnvelope, x25519Implementation } from '@baran/trust'
import nacl from 'tweetnacl'
import { identityActor } from '../src/index.ts'
import { SealedKeyring } from '../src/lib/store.ts'

const cleanup = new Cleanup()
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 2000)
const payload = nacl.randomBytes(1024)

/** Round trips per second, running `op` with `concurrency` in flight for a fixed window. */
async function rate(op: (i: number) => Promise<unknown>, concurrency = 1): Promise<number> {
  const end = performance.now() + WINDOW_MS
  let n = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await op(n++)
    }),
  )
  return Math.round((n * 1000) / WINDOW_MS)
}

async function inProcess(recipientCount: number) {
  const stores: SealedKeyring[] = []
  for (let i = 0; i <= recipientCount; i++) {
    const s = new SealedKeyring({ dir: await tempDir(cleanup) })
    await s.load()
    await s.createAccount({ deviceName: `d${i}` })
    stores.push(s)
  }
  const [sender, ...recipients] = await Promise.all(stores.map((s) => s.envelopeKeys()))
  const keys = recipients.map((r) => envelopeRecipientOf(r!.deviceCert))
  const seal = (i: number) => sealEnvelope({ id: `m${i}`, payload, sender: { deviceCert: sender!.deviceCert, deviceSecretKey: sender!.deviceSecretKey }, recipients: keys })
  const sample = await seal(0)
  const me = { deviceId: recipients[0]!.deviceId, encPrivateKey: recipients[0]!.encPrivateKey }
  return {
    envelopeBytes: sample.length,
    sealPerSec: await rate(seal),
    openPerSec: await rate(() => openEnvelope(sample, me)),
    sealAndOpenPerSec: await rate(async (i) => openEnvelope(await seal(i), me)),
  }
}

async function overBus(recipientCount: number) {
  const nats = await setupNats({ cleanup, node: 'sender' })
  const buses: Bus[] = [nats.bus]
  for (let i = 0; i <= recipientCount; i++) {
    const node = i === 0 ? 'sender' : `r${i}`
    if (i > 0) {
      const bus = await Bus.connect({ servers: nats.url, node })
      cleanup.add('close bus', () => bus.close())
      buses.push(bus)
    }
    await runInline(identityActor, { cleanup, node, url: nats.url, dataDir: await tempDir(cleanup), config: { kdf: { N: 1024, r: 8, p: 1 } } })
    await buses[i]!.request(identityCreate, {})
  }
  const certs = await Promise.all(buses.slice(1).map(async (b) => (await b.request(identityPeerBinding, { peerId: 'bench' })).deviceCert))
  const b64 = Buffer.from(payload).toString('base64')
  const seal = (i: number) => buses[0]!.request(identitySeal, { id: `m${i}`, payload: b64, recipients: certs })
  const result = {
    sealPerSec: await rate(seal, 4),
    sealAndOpenPerSec: await rate(async (i) => buses[1]!.request(identityOpen, { envelope: (await seal(i + 1_000_000)).envelope }), 4),
  }
  return result
}

try {
  const result = {
    payloadBytes: payload.length,
    inProcess: { to1: await inProcess(1), to5: await inProcess(5) },
    actorOverBus: { to1: await overBus(1), to5: await overBus(5) },
    x25519: await x25519Implementation(),
    note: 'rates per second; over the bus: JSON, zod, base64 and a NATS round trip, 4 in flight, actors inline in this process; open includes the replay-window append (one file append per opened envelope)',
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await cleanup.run()
}
