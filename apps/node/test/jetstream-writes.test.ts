import { describe, expect, it } from 'vitest'
import { lastSequences, writesBetween } from '../bench/jetstream-writes.ts'

const reply = (x: unknown) => new TextEncoder().encode(JSON.stringify(x))

describe("the pipeline bench's write count (JetStream stream sequences)", () => {
  it('reads each stream’s last sequence and counts the writes between two readings, new streams from 0', () => {
    const before = lastSequences(reply({ total: 2, streams: [{ config: { name: 'KV_outbox' }, state: { last_seq: 10 } }, { config: { name: 'KV_history' }, state: { last_seq: 4 } }] }))
    const after = lastSequences(
      reply({
        total: 3,
        streams: [
          { config: { name: 'KV_outbox' }, state: { last_seq: 30 } },
          { config: { name: 'KV_history' }, state: { last_seq: 4 } },
          { config: { name: 'KV_inbox-log' }, state: { last_seq: 7 } },
        ],
      }),
    )
    expect(writesBetween(before, after)).toEqual({ KV_outbox: 20, 'KV_inbox-log': 7 })
  })

  it('refuses what it cannot count: an API error, a reply without streams, a paged list, junk', () => {
    expect(() => lastSequences(reply({ error: { code: 503, description: 'JetStream not enabled' } }))).toThrow(/JetStream not enabled/)
    expect(() => lastSequences(reply({ total: 0 }))).toThrow(/without streams/)
    expect(() => lastSequences(reply({ total: 300, streams: [{ config: { name: 'a' }, state: { last_seq: 1 } }] }))).toThrow(/paged/)
    expect(() => lastSequences(new TextEncoder().encode('not json'))).toThrow(/not JSON/)
  })
})
