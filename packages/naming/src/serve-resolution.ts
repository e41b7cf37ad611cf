import type { ActorContext } from '@baran/actor'
import { namingLookup, namingReverse } from '@baran/bus'
import type { Resolver } from './lib/cached-resolver.ts'
import { isNamingError } from './lib/errors.ts'

/**
 * What both naming actors (the chain's and the name server's) serve the same way: lookup and reverse over their
 * resolver. Returns `watch`, which passes a call's result through and, when the answer says the backend is gone
 * (`unavailable`), has the monitor check at once instead of waiting for its next probe.
 */
export function serveResolution(
  ctx: ActorContext<unknown>,
  resolver: Resolver,
  monitor: { checkNow(): unknown },
): <T>(work: Promise<T>) => Promise<T> {
  const watch = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work
    } catch (e) {
      if (isNamingError(e, 'unavailable')) void monitor.checkNow()
      throw e
    }
  }
  ctx.serve(namingLookup, async ({ name }) => {
    const r = await watch(resolver.lookup(name))
    return { name: r.name, accountId: r.accountId, publicKey: r.publicKey, owner: r.owner }
  })
  ctx.serve(namingReverse, async ({ accountId }) => ({ name: await watch(resolver.reverse(accountId)) }))
  return watch
}
