import { actor as outboxActor } from '@baran/outbox'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { outboxBuckets } from '../src/lib/node.ts'

describe('simulated nodes keep their outbox buckets apart', () => {
  it('names every bucket the outbox config knows for the node, none shared between two nodes', () => {
    // All nodes share one nats-server: a bucket the outbox opens under its default name would be every node's.
    const schema = outboxActor.config as z.ZodObject<{ buckets: z.ZodOptional<z.ZodObject<z.ZodRawShape>> }>
    const known = Object.keys(schema.shape.buckets.unwrap().shape).sort()
    const a = outboxBuckets('s1')
    const b = outboxBuckets('s2')
    expect(Object.keys(a).sort()).toEqual(known)
    expect(new Set([...Object.values(a), ...Object.values(b)]).size).toBe(known.length * 2)
    // What the outbox accepts as its config.
    expect(schema.safeParse({ buckets: a }).success).toBe(true)
  })
})
