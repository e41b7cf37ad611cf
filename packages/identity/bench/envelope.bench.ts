/**
 * Sealed envelopes: seal + open of a 1 KiB payload to 1 and to 5 recipient devices, in-process (the @baran/trust
 * functions with the keys at hand) and through the identity actors over the bus (identity.seal on the sender's
 * node, identity.open on a recipient's). Also the envelope sizes, which X25519 implementation ran, and the floor
 * the envelopes put under the durable pipeline (`pipelineFloor`: raw primitives for one message's seals and open).
 */

import { cpus } from 'node:os'
import { Bus, identityCreate, identityOpen, identityPeerBinding, identitySeal } from '@baran/bus'
import { Cleanup, envelopeFloorCpuUs, envelopePrimitives, runInline, setupNats, tempDir } from '@baran/testkit'
import { envelopeRecipientOf, openEnvelope, sealEnvelope, x25519Implementation } from '@baran/trust'
import nacl from 'tweetnacl'
import { identityActor } from '../src/index.ts'
import { EnvelopeService } from '../src/lib/envelopes.ts'
import { ReplayWindow } from '../src/lib/replay-window.ts'
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

/** CPU time (user + system, all of this process's threads: WebCrypto's jobs run on libuv's pool) per `op`, one in flight. */
async function cpuPerOp(op: (i: number) => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage()
  const end = performance.now() + WINDOW_MS
  let n = 0
  while (performance.now() < end) await op(n++)
  const used = process.cpuUsage(before)
  return Math.round((used.user + used.system) / n)
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
    sealAndOpenCpuUs: await cpuPerOp(async (i) => openEnvelope(await seal(i), me)),
    sealPerSec: await rate(seal),
    openPerSec: await rate(() => openEnvelope(sample, me)),
    sealAndOpenPerSec: await rate(async (i) => openEnvelope(await seal(i), me)),
  }
}

/**
 * The least CPU one message costs through the durable pipeline in envelope work alone, from the raw primitives: the
 * sender seals the body at rest (one authenticated cipher under its own key, since stop 44; a signed seal to itself
 * before) and seals the payload to the recipient device (one signed seal), the receiver opens it (one agreement, one
 * verification: the sender's certificate is already verified). With nothing else at all (no JetStream, bus,
 * transport), the machine's cores could carry at most `ceilingMsgsPerSec` messages a second.
 */
async function pipelineFloor() {
  const cpuUsPerMessage = Math.round(envelopeFloorCpuUs(payload, WINDOW_MS))
  return { cpuUsPerMessage, cores: cpus().length, ceilingMsgsPerSec: Math.round((cpus().length * 1e6) / cpuUsPerMessage) }
}

async function rawRates() {
  const r = envelopePrimitives(payload)
  const sample = r.sealSigned()
  return {
    sealPerSec: await rate(async () => r.sealRaw()),
    openPerSec: await rate(async () => r.openRaw(sample)),
    sealAndOpenPerSec: await rate(async () => r.openRaw(r.sealRaw())),
    sealAndOpenCpuUs: await cpuPerOp(async () => r.openRaw(r.sealRaw())),
    signed: {
      sealAndOpenCpuUs: await cpuPerOp(async () => r.openSigned(r.sealSigned())),
      sealPerSec: await rate(async () => r.sealSigned()),
      openPerSec: await rate(async () => r.openSigned(sample)),
      sealAndOpenPerSec: await rate(async () => r.openSigned(r.sealSigned())),
    },
  }
}

/**
 * A body the device keeps sealed to itself (what the outbox stores of every message it sends): seal + open through
 * identity's EnvelopeService, in-process, as the body at rest it is now and as the signed envelope to the device's own
 * certificate it was until stop 44 (which identity still opens), one after the other in this run.
 */
async function atRest() {
  const store = new SealedKeyring({ dir: await tempDir(cleanup) })
  await store.load()
  await store.createAccount({ deviceName: 'me' })
  const service = new EnvelopeService({ store, replay: new ReplayWindow({ dir: await tempDir(cleanup) }) })
  const keys = await store.envelopeKeys()
  const { accountId, encKey } = keys.deviceCert.body as { accountId: string; encKey: string }
  const self = [{ accountId, deviceId: keys.deviceId, encKey }]
  const sender = { deviceCert: keys.deviceCert, deviceSecretKey: keys.deviceSecretKey }
  const bodyAtRest = async (i: number) => service.open((await service.seal(`m${i}`, payload, [], { self: true })).envelope)
  const signedEnvelope = async (i: number) => service.open(await sealEnvelope({ id: `m${i}`, payload, sender, recipients: self }), { skipReplayWindow: true })
  const measure = async (op: (i: number) => Promise<unknown>) => ({ sealAndOpenCpuUs: await cpuPerOp(op), sealAndOpenPerSec: await rate(op) })
  return { bodyAtRest: await measure(bodyAtRest), signedEnvelope: await measure(signedEnvelope) }
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
  // Raw primitives and Baran's envelope alternate in one run, so both see the same machine load.
  const rawFirst = await rawRates()
  const to1 = await inProcess(1)
  const rawSecond = await rawRates()
  const rawBest = rawFirst.sealAndOpenPerSec >= rawSecond.sealAndOpenPerSec ? rawFirst : rawSecond
  const overhead = (r: number) => Math.round((r / to1.sealAndOpenPerSec) * 100) / 100
  const cpuRatio = (us: number) => Math.round((to1.sealAndOpenCpuUs / us) * 100) / 100
  const rawCpu = Math.min(rawFirst.sealAndOpenCpuUs, rawSecond.sealAndOpenCpuUs)
  const rawSignedCpu = Math.min(rawFirst.signed.sealAndOpenCpuUs, rawSecond.signed.sealAndOpenCpuUs)
  const result = {
    headline:
      'seal + open of a 1 KiB payload to one device, one at a time: Baran envelope vs raw node:crypto primitives in the same run; rate ratio = raw rate / Baran rate (wall clock, one in flight), CPU ratio = Baran CPU µs per seal+open / raw (all threads); goal <= 1.5',
    payloadBytes: payload.length,
    overhead: {
      vsRawX25519ChaCha20: overhead(rawBest.sealAndOpenPerSec),
      vsRawWithSignatures: overhead(rawBest.signed.sealAndOpenPerSec),
      cpuVsRawX25519ChaCha20: cpuRatio(rawCpu),
      cpuVsRawWithSignatures: cpuRatio(rawSignedCpu),
      goal: 1.5,
      met: overhead(rawBest.signed.sealAndOpenPerSec) <= 1.5,
    },
    raw: { first: rawFirst, second: rawSecond },
    pipelineFloor: await pipelineFloor(),
    inProcess: { to1, to5: await inProcess(5) },
    keptAtRest: await atRest(),
    actorOverBus: { to1: await overBus(1), to5: await overBus(5) },
    x25519: await x25519Implementation(),
    note: 'rates per second; over the bus: JSON, zod, base64 and a NATS round trip, 4 in flight, actors inline in this process; open includes the replay-window append (one file append per opened envelope)',
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await cleanup.run()
}
