/**
 * Relayed vs direct message RTT (send → ack) in the NAT lab, printed as one JSON object.
 *
 *   npx node --conditions=@baran/source tools/natlab/bench/natlab.bench.ts [--quick]
 *
 * Relayed: A (home 1, behind NAT 1) → relay → B (home 2, behind NAT 2), B's /p2p-circuit address.
 * Direct: A → C, a host on the public network (in the relay's namespace, so one leg of the
 * relayed path), through NAT 1. Needs root; without it prints {"skipped": reason}.
 */
import {
  ADDRESSES,
  canCreateNamespaces,
  createNatLab,
  DCUTR_DEBUG,
  diagnoseDcutr,
  type HostEvent,
  LAB_PEER_SCRIPT,
  type LabHost,
  probeMapping,
  startLabHost,
  TRANSPORT_HOST_SCRIPT,
} from '../src/index.ts'

const quick = process.argv.includes('--quick')
const WARMUP = 10
const N = quick ? 50 : 200 // relayed connections carry at most 128 KiB with the relay's default limits

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)

function stats(values: number[]) {
  const v = [...values].sort((x, y) => x - y)
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))] ?? Number.NaN
  const round = (x: number) => Math.round(x * 1000) / 1000
  return { n: v.length, p50: round(q(0.5)), p99: round(q(0.99)), mean: round(v.reduce((s, x) => s + x, 0) / v.length) }
}

/** Sends WARMUP + N envelopes from A; returns the RTTs past the warm-up and the time to the first ack. */
async function run(a: LabHost, peerId: string, addrs: string[]) {
  const from = a.events.length
  const started = performance.now()
  a.command({ cmd: 'send', peerId, addrs, count: WARMUP + N })
  const first = await a.waitFor((e) => e.event === 'sent' || e.event === 'send-failed', { from, timeoutMs: 20_000 })
  const firstMs = performance.now() - started
  if (first.event !== 'sent') throw new Error(`first send failed: ${String(first.message)}`)
  await a.waitFor((e) => e.event === 'send-done', { from, timeoutMs: 120_000 })
  const sent = a.events.slice(from).filter((e): e is HostEvent & { rtt: number; connection: string } => e.event === 'sent')
  const failed = a.events.slice(from).filter((e) => e.event === 'send-failed').length
  return { sent, failed, firstMs }
}

const check = await canCreateNamespaces()
if (!check.ok) {
  print({ skipped: check.reason })
  process.exit(0)
}

const lab = await createNatLab()
try {
  const relay = await startLabHost(lab, 'relay', TRANSPORT_HOST_SCRIPT, ['--relay-server', '--listen', `/ip4/${ADDRESSES.relay}/tcp/4001`])
  const relayAddr = `/ip4/${ADDRESSES.relay}/tcp/4001/p2p/${relay.peerId}`
  const c = await startLabHost(lab, 'relay', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ADDRESSES.relay}/tcp/4002`])
  const b = await startLabHost(lab, 'b', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ADDRESSES.b}/tcp/4001`, '--relay', relayAddr], { debug: DCUTR_DEBUG })
  const a = await startLabHost(lab, 'a', LAB_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/4001`, '--relay', relayAddr], { debug: DCUTR_DEBUG })
  const mapping = await probeMapping(lab, 'a')

  const relayed = await run(a, b.peerId, [`${relayAddr}/p2p-circuit/p2p/${b.peerId}`])
  const direct = await run(a, c.peerId, [`/ip4/${ADDRESSES.relay}/tcp/4002/p2p/${c.peerId}`])
  const dcutr = diagnoseDcutr(a, b)

  const rtts = (r: typeof relayed) => r.sent.slice(WARMUP).map((s) => s.rtt)
  const rs = stats(rtts(relayed))
  const ds = stats(rtts(direct))
  print({
    messages: N,
    warmup: WARMUP,
    payloadBytes: 16,
    relayedRttMs: rs,
    directRttMs: ds,
    ratioRelayedToDirect: { p50: Math.round((rs.p50 / ds.p50) * 100) / 100, p99: Math.round((rs.p99 / ds.p99) * 100) / 100 },
    firstMessageMs: { relayed: Math.round(relayed.firstMs), direct: Math.round(direct.firstMs) },
    connections: { relayed: [...new Set(relayed.sent.map((s) => s.connection))], direct: [...new Set(direct.sent.map((s) => s.connection))] },
    failed: relayed.failed + direct.failed,
    natMapping: mapping.mapping,
    natPortPreserved: mapping.portPreserved,
    dcutr: dcutr.result,
  })
} finally {
  await lab.teardown()
}
