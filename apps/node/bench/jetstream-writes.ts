/**
 * JetStream writes on a running node's bus, counted from its streams' sequences: every key/value put, create,
 * update or delete is one message appended to a bucket's stream, so the sum of the streams' last sequences moves
 * by exactly the number of writes. Read-only (`$JS.API.STREAM.LIST`), over a connection of the node's outbox user,
 * the one bus user allowed to use JetStream: the `cli` user the benches talk through may not.
 */
import type { Cleanup } from '@baran/testkit'
import { connectAs, type TestNode } from '../test/helpers.ts'

interface StreamList {
  total?: number
  streams?: Array<{ config?: { name?: string }; state?: { last_seq?: number } }>
  error?: { code?: number; description?: string }
}

/** Parses a `$JS.API.STREAM.LIST` reply into each stream's last sequence; throws on an API error or a bad reply. */
export function lastSequences(reply: Uint8Array): Map<string, number> {
  let list: StreamList
  try {
    list = JSON.parse(new TextDecoder().decode(reply)) as StreamList
  } catch (err) {
    throw new Error('stream list reply is not JSON', { cause: err })
  }
  if (list.error) throw new Error(`stream list refused: ${list.error.description ?? list.error.code}`)
  if (!Array.isArray(list.streams)) throw new Error('stream list reply without streams')
  if (list.total !== undefined && list.total > list.streams.length) throw new Error(`stream list paged (${list.total} streams): count them page by page`)
  const out = new Map<string, number>()
  for (const s of list.streams) out.set(s.config?.name ?? '?', s.state?.last_seq ?? 0)
  return out
}

/** Writes between two readings, by stream (a stream created in between counts from 0). */
export function writesBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, seq] of after) {
    const n = seq - (before.get(name) ?? 0)
    if (n > 0) out[name] = n
  }
  return out
}

/** A reader of the node's streams' last sequences (its connection closes with `cleanup`). */
export async function streamSequences(n: TestNode, cleanup: Cleanup): Promise<() => Promise<Map<string, number>>> {
  const bus = await connectAs(n, 'outbox', cleanup, `bench-${n.node}-streams`)
  return async () => {
    const r = await bus.requestRaw('$JS.API.STREAM.LIST', new TextEncoder().encode('{}'))
    return lastSequences(r.data)
  }
}
