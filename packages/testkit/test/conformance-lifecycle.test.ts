/** The generic lifecycle suite against the example echo actor: the suite itself is checked on a known-good actor. */
import type { ActorDefinition } from '@baran/actor'
import { Cleanup, echoActor, echoSay, echoSlow, runInline, setupNats, tempDir } from '../src/index.ts'
import { lifecycleSuite } from '../src/conformance/index.ts'

const cleanup = new Cleanup()
lifecycleSuite({
  async setup() {
    const nats = await setupNats({ cleanup, node: 'e1' })
    const dataDir = await tempDir(cleanup)
    return {
      actor: 'echo',
      node: 'e1',
      bus: nats.bus,
      verb: 'say',
      start: () => runInline(echoActor as ActorDefinition<unknown>, { cleanup, node: 'e1', url: nats.url, dataDir, config: {} }),
      probe: () => nats.bus.request(echoSay, { text: 'probe' }),
      busy: () => nats.bus.request(echoSlow, { ms: 300 }, { timeoutMs: 10_000 }),
    }
  },
  teardown: () => cleanup.run(),
})
