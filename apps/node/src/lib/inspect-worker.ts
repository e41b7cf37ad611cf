/**
 * The short-lived process that loads actor implementations for the supervisor (see inspect.ts): the supervisor
 * never imports libp2p, ethers and the rest of an implementation just to read its role, contracts and config schema.
 */
import type { ActorEntry } from './config.ts'
import { checkActorConfig, type LoadedActor, loadActor } from './implementations.ts'
import { describeLoaded, type InspectReply, type InspectRequest } from './inspect.ts'

const send = process.send?.bind(process)
if (!send) throw new Error('inspect-worker runs only as a child of the supervisor (with an IPC channel)')
const loaded = new Map<string, LoadedActor>()

async function answer(req: InspectRequest): Promise<InspectReply> {
  if (req.type === 'load') {
    for (const { name, entry } of req.actors) loaded.set(name, await loadActor(name, entry as ActorEntry, req.baseDir))
    return { ok: true, actors: [...loaded.values()].map(describeLoaded) }
  }
  for (const [name, merged] of Object.entries(req.configs)) {
    const a = loaded.get(name)
    if (a) checkActorConfig(a, merged)
  }
  return { ok: true, actors: [] }
}

process.on('message', (req: InspectRequest) => {
  answer(req).then(
    (reply) => send(reply),
    (e: unknown) => {
      const err = e as Error & { code?: string }
      send({ ok: false, message: err.message, ...(err.code ? { code: err.code } : {}) } satisfies InspectReply)
    },
  )
})
// The supervisor closing the channel (or dying) ends this process.
process.on('disconnect', () => process.exit(0))
