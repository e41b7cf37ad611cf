/**
 * Typed request through an actor endpoint (zod at both ends, error envelope, version header, NATS services)
 * vs a raw NATS request/reply on the same server, interleaved in rounds in one run. Goal: ratio ≤ 1.3×.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'nats'
import { z } from 'zod'
import { Bus, contract } from '../src/index.ts'
import { startNatsServer } from '@baran/launch'
import { percentiles, round } from './stats.ts'

const ROUNDS = 10
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
const server = await startNatsServer({ workDir: dir })
try {
  const serverBus = await Bus.connect({ servers: server.url, node: 'b' })
  const svc = await serverBus.service({ name: 'bench', version: '1.0.0' })
  svc.serve(echo, (r) => r)
  const client = await Bus.connect({ servers: server.url, node: 'b' })

  const rawServer = await connect({ servers: server.url })
  rawServer.subscribe('raw.echo', { callback: (_e, m) => m.respond(m.data) })
  const rawClient = await connect({ servers: server.url })
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
  await Promise.all([client.close(), serverBus.close(), rawServer.close(), rawClient.close()])
  process.stdout.write(
    `${JSON.stringify({
      requests: pt.n,
      typedMs: { p50: round(pt.p50), p99: round(pt.p99) },
      rawMs: { p50: round(pr.p50), p99: round(pr.p99) },
      ratioP50: round(pt.p50 / pr.p50, 2),
      ratioP99: round(pt.p99 / pr.p99, 2),
      goal: 'typed/raw p50 <= 1.3',
    })}\n`,
  )
} finally {
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
