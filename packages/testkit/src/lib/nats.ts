import { Bus } from '@baran/bus'
import { type NatsServerProcess, startNatsServer } from '@baran/launch'
import { Cleanup } from './cleanup.ts'
import { tempDir } from './tmp.ts'

export interface NatsFixture {
  server: NatsServerProcess
  url: string
  dir: string
  /** A bus client on node `n1` (or the given node). */
  bus: Bus
  cleanup: Cleanup
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * A real nats-server on a random loopback port with a temp JetStream store, plus a connected bus client —
 * the testkit's `const { server, bus } = await setupNats()`, undone by `cleanup.run()` (or `await using`).
 */
export async function setupNats(opts: { node?: string; jetstream?: boolean; cleanup?: Cleanup } = {}): Promise<NatsFixture> {
  const cleanup = opts.cleanup ?? new Cleanup()
  const dir = await tempDir(cleanup, 'baran-nats-')
  const server = await startNatsServer({ workDir: dir, jetstream: opts.jetstream ?? true })
  cleanup.add('stop nats-server', () => server.stop())
  // The server is up (it wrote its ports file): a slow handshake is a loaded machine, not a missing server.
  const bus = await Bus.connect({ servers: server.url, node: opts.node ?? 'n1', connectTimeoutMs: 15_000 })
  cleanup.add('close bus', () => bus.close())
  return { server, url: server.url, dir, bus, cleanup, [Symbol.asyncDispose]: () => cleanup.run() }
}
