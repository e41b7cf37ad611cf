import type { ActorDefinition, ActorRuntime } from '@baran/actor'
import type { Bus } from '@baran/bus'
import { runInline } from './lib/actors.ts'
import type { Cleanup } from './lib/cleanup.ts'
import { setupNats } from './lib/nats.ts'
import { tempDir } from './lib/tmp.ts'

/** A node made of real actors running inline (one process, one nats-server per node): fast integration tests. */
export interface InlineNode {
  name: string
  url: string
  bus: Bus
  dataDir: string
  runtimes: Map<string, ActorRuntime<unknown>>
  /** Starts (or restarts) one more actor on this node. */
  start(def: ActorDefinition<unknown>, config?: unknown): Promise<ActorRuntime<unknown>>
  stop(actor: string): Promise<void>
}

export async function inlineNode(cleanup: Cleanup, name: string, actors: Array<[ActorDefinition<unknown>, unknown?]>): Promise<InlineNode> {
  const nats = await setupNats({ cleanup, node: name, jetstream: true })
  const dataDir = await tempDir(cleanup, `baran-${name}-`)
  const runtimes = new Map<string, ActorRuntime<unknown>>()
  const node: InlineNode = {
    name,
    url: nats.url,
    bus: nats.bus,
    dataDir,
    runtimes,
    async start(def, config) {
      const rt = await runInline(def, { cleanup, node: name, url: nats.url, dataDir, config: config ?? {} })
      runtimes.set(def.name, rt)
      return rt
    },
    async stop(actor) {
      const rt = runtimes.get(actor)
      if (!rt) return
      await rt.stop('test')
      await rt.close()
      runtimes.delete(actor)
    },
  }
  for (const [def, config] of actors) await node.start(def, config)
  return node
}
