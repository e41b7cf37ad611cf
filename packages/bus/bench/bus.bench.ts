/**
 * Typed request through an actor endpoint (zod at both ends, error envelope, version header, NATS services)
 * vs a raw NATS request/reply on the same server, interleaved in rounds in one run. Goal: ratio ≤ 1.3×.
 * Then key/value puts: the bus's write path (kv-write.ts) vs nats.js's KV `put` on the same server, one at a time
 * and 32 in flight, interleaved in rounds: both send the same protocol message and get the same acknowledgement,
 * so the server's work is the same; what differs is the client's CPU (this process's, from process.cpuUsage).
 * The raw client is configured as the bus's connection is (`noAsyncTraces`), so neither side pays for stack traces.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type NatsConnection, StorageType } from 'nats'
import { z } from 'zod'
import { Bus, contract } from '../src/index.ts'
import { startNatsServer } from '@baran/launch'
import { percentiles, round } from './stats.ts'

const ROUNDS = 10
const KV_ROUNDS = 5
const PER_ROUND = 300

const echo = contract({
  actor: 'bench',
  verb: 'echo',
  request: z.object({ id: z.number().int(), text: z.string().max(1000) }).strict(),
  reply: z.object({ id: z.number().int(), text: z.string() }),
  callers: ['*'],
  description: 'echo for the benchmark',
})

const dir = await mkdtemp(join(tmpdir(), 'baran-bench-bus-'))
const server = await startNatsServer({ workDir: dir, jetstream: true })
try {
  const serverBus = await Bus.connect({ servers: server.url, node: 'b' })
  const svc = await serverBus.service({ name: 'bench', version: '1.0.0' })
  svc.serve(echo, (r) => r)
  const client = await Bus.connect({ servers: server.url, node: 'b' })

  const rawServer = await connect({ servers: server.url, noAsyncTraces: true })
  rawServer.subscribe('raw.echo', { callback: (_e, m) => m.respond(m.data) })
  const rawClient = await connect({ servers: server.url, noAsyncTraces: true })
  await rawServer.flush()
  const payload = { id: 1, text: 'hello baran' }
  const bytes = new TextEncoder().encode(JSON.stringify(payload))

  const typed: number[] = []
  const raw: number[] = []
  // warm-up
  for (let i = 0; i < 200; i++) {
    await client.request(echo, payload)
    await rawClient.request('raw.echo', bytes)
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < PER_ROUND; i++) {
      let t = performance.now()
      await client.request(echo, payload)
      typed.push(performance.now() - t)
      t = performance.now()
      JSON.parse(new TextDecoder().decode((await rawClient.request('raw.echo', bytes)).data))
      raw.push(performance.now() - t)
    }
  }
  const pt = percentiles(typed)
  const pr = percentiles(raw)
  const kvPuts = await measureKvPuts(client, rawClient)
  await Promise.all([client.close(), serverBus.close(), rawServer.close(), rawClient.close()])
  process.stdout.write(
    `${JSON.stringify({
      requests: pt.n,
      typedMs: { p50: round(pt.p50), p99: round(pt.p99) },
      rawMs: { p50: round(pr.p50), p99: round(pr.p99) },
      ratioP50: round(pt.p50 / pr.p50, 2),
      ratioP99: round(pt.p99 / pr.p99, 2),
      goal: 'typed/raw p50 <= 1.3',
      kvPuts,
    })}\n`,
  )
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}

/** Runs `n` operations with `inFlight` of them at a time. */
async function pool(n: number, inFlight: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await op(next++)
  }))
}

/** Puts per second and client CPU µs a put, the bus's KvBucket against nats.js's KV, rounds interleaved (medians). */
async function measureKvPuts(bus: Bus, nc: NatsConnection): Promise<Record<string, unknown>> {
  const value = new TextEncoder().encode('x'.repeat(256))
  const busKv = await bus.kv('bench_bus_puts', { storage: 'memory' })
  const natsKv = await nc.jetstream().views.kv('bench_nats_puts', { history: 1, storage: StorageType.Memory })
  const sides = { bus: (i: number) => busKv.put(`k${i % 1000}`, value), natsjs: (i: number) => natsKv.put(`k${i % 1000}`, value) }
  const out: Record<string, unknown> = {}
  for (const inFlight of [1, 32]) {
    const n = inFlight === 1 ? 1_000 : 5_000
    const rate: Record<string, number[]> = { bus: [], natsjs: [] }
    const cpu: Record<string, number[]> = { bus: [], natsjs: [] }
    for (const put of Object.values(sides)) await pool(n / 5, inFlight, put) // warm-up
    for (let r = 0; r < KV_ROUNDS; r++) {
      for (const [name, put] of Object.entries(sides)) {
        const cpu0 = process.cpuUsage()
        const t = performance.now()
        await pool(n, inFlight, put)
        const ms = performance.now() - t
        const used = process.cpuUsage(cpu0)
        rate[name]?.push(n / (ms / 1000))
        cpu[name]?.push((used.user + used.system) / n)
      }
    }
    const median = (xs: number[] = []) => percentiles(xs).p50
    out[`c${inFlight}`] = {
      puts: n * KV_ROUNDS,
      busPerSec: Math.round(median(rate.bus)),
      natsjsPerSec: Math.round(median(rate.natsjs)),
      busClientCpuUs: round(median(cpu.bus), 1),
      natsjsClientCpuUs: round(median(cpu.natsjs), 1),
    }
  }
  return { clock: 'from the first put issued to the last acknowledged, per round; medians of the rounds', storage: 'memory', valueBytes: value.length, ...out }
}
