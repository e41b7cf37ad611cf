import { actorLog, type TestNode } from '../test/helpers.ts'

/** Warnings and errors the actors of a node logged, counted by actor and message (a healthy run has none). */
export async function warnings(n: TestNode): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const actor of ['identity', 'naming', 'discovery', 'transport', 'outbox']) {
    for (const l of await actorLog(n, actor)) {
      if (typeof l.level !== 'number' || l.level < 40) continue
      const key = `${actor}: ${l.msg ?? '?'}`
      counts[key] = (counts[key] ?? 0) + 1
    }
  }
  return counts
}
