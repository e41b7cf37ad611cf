/**
 * History backfill over the real channel, one JSON object on stdout. One nats-server (file storage); device B's
 * history holds N messages (4 conversations, both directions, bodies in the clear: sealing is identity's cost,
 * measured by identity-envelope); a new device C pulls them all from B over `/baran/history-sync/1.0.0` between two
 * libp2p hosts on loopback (devices of one account: HELLO checked on every request, bounded parts, zod on every
 * frame), B answering from its history (`answerSync`). Against, in the same run: the same backfill to a device D
 * through the same bounded parts without transport (`remoteOver(answerSync)` in process). Then a second sync over
 * transport with nothing new: p50/max of ROUNDS.
 * Run: npx node --conditions=@baran/source apps/node/bench/history-sync.bench.ts [scale]  (scale 1 = 5,000)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bus, type SyncRequest } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { createTransportHost, type TransportHost } from '@baran/transport'
import { generateKeyPair, type KeyPair, signRecord } from '@baran/trust'
import { HistoryStore } from '../../../packages/outbox/src/lib/history.ts'
import { pullHistory } from '../../../packages/outbox/src/lib/history-pull.ts'
import { newMessageId } from '../../../packages/outbox/src/lib/ids.ts'
import { answerSync, remoteOver } from '../../../packages/outbox/src/lib/sync-wire.ts'

const scale = Math.max(0.01, Math.min(10, Number(process.argv[2] ?? 1) || 1))
const N = Math.round(5_000 * scale)
const ROUNDS = 10
const BOB = 'b1'.repeat(20)
const BOB_PHONE = 'b2'.repeat(20)
const PEERS = ['a1', 'c1', 'd1', 'e1'].map((x) => x.repeat(20))
const round2 = (x: number) => Math.round(x * 100) / 100

/** A device of `account` whose certificate and binding name the host's PeerId. */
function credentials(account: KeyPair, peerId: string) {
  const device = generateKeyPair()
  const issuedAt = Date.now() - 1000
  const expiresAt = issuedAt + 3_600_000
  return {
    deviceId: device.id,
    deviceCert: signRecord({ type: 'device-cert', v: 1, seq: 0, issuedAt, expiresAt, body: { accountId: account.id, deviceId: device.id, deviceKey: device.signer, name: 'bench' } }, account.secretKey),
    peerBinding: signRecord({ type: 'peer-binding', v: 1, seq: 0, issuedAt, expiresAt, body: { accountId: account.id, deviceId: device.id, peerId } }, device.secretKey),
  }
}

const dir = await mkdtemp(join(tmpdir(), 'baran-bench-hsync-'))
const server = await startNatsServer({ workDir: dir, jetstream: true })
const hosts: TransportHost[] = []
const result: Record<string, unknown> = { cpus: cpus().length, scale, messages: N, conversations: PEERS.length, goal: 'over transport ≥ 0.5× the same parts in process' }
try {
  const bus = await Bus.connect({ servers: server.url, node: 'n1' })
  const b = new HistoryStore({ kv: await bus.kv('bench_hsync_b') })
  const body = 'x'.repeat(200)
  for (let i = 0; i < N; i += 512) {
    const batch = Array.from({ length: Math.min(512, N - i) }, (_, j) => ({ id: newMessageId(), peer: PEERS[(i + j) % PEERS.length]!, out: (i + j) % 2 === 0 }))
    await Promise.all(
      batch.map(({ id, peer, out }) =>
        out
          ? b.recordSent({ id, from: BOB, fromDevice: BOB_PHONE, to: peer, body, sentAt: Date.now() }, [peer])
          : b.recordReceived({ id, from: peer, fromDevice: peer, to: BOB, body, sentAt: Date.now(), receivedAt: Date.now() }, BOB),
      ),
    )
  }
  await b.summaries() // B warm, as on a running device

  const account = generateKeyPair()
  const opts = { listen: ['/ip4/127.0.0.1/tcp/0'], upnp: false, autonat: false, keepAlive: false as const, webrtc: false }
  const hostB = await createTransportHost(opts)
  hosts.push(hostB)
  const hostC = await createTransportHost(opts)
  hosts.push(hostC)
  const credB = credentials(account, hostB.peerId)
  hostB.setCredentials(credB)
  hostC.setCredentials(credentials(account, hostC.peerId))
  let requests = 0
  const answer = (req: SyncRequest) => answerSync(b, req, { open: async (e) => e })
  hostB.onSyncRequest(async (req) => {
    requests++
    return answer(req)
  })
  const target = { peerId: hostB.peerId, addrs: hostB.multiaddrs().filter((a) => !a.includes('/p2p-circuit')), deviceId: credB.deviceId }
  const overTransport = remoteOver((req) => hostC.syncRequest(target, req))

  const c = new HistoryStore({ kv: await bus.kv('bench_hsync_c') })
  let t = performance.now()
  const r = await pullHistory(c, overTransport)
  const viaTransport = (performance.now() - t) / 1000
  if (r.fetched !== N) throw new Error(`fetched ${r.fetched} of ${N}`)
  result.overTransport = { seconds: round2(viaTransport), msgPerSec: Math.round(N / viaTransport), requests }

  const d = new HistoryStore({ kv: await bus.kv('bench_hsync_d') })
  t = performance.now()
  await pullHistory(d, remoteOver(answer))
  const inProcess = (performance.now() - t) / 1000
  result.inProcess = { seconds: round2(inProcess), msgPerSec: Math.round(N / inProcess) }
  result.ratio = round2(inProcess / viaTransport)

  const again: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now()
    const none = await pullHistory(c, overTransport)
    again.push(performance.now() - t0)
    if (none.fetched !== 0) throw new Error('a second sync fetched something')
  }
  again.sort((x, y) => x - y)
  result.secondSyncOverTransport = { p50Ms: round2(again[Math.floor(again.length / 2)]!), maxMs: round2(again.at(-1)!) }
  if (JSON.stringify(await c.summaries()) !== JSON.stringify(await b.summaries())) throw new Error('C differs from B')
  await bus.close()
} finally {
  for (const h of hosts) await h.stop().catch(() => undefined)
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
process.stdout.write(`${JSON.stringify(result)}\n`)
