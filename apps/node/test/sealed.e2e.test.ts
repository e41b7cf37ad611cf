/**
 * Sealed delivery between two real nodes (supervisor, nats-server with JetStream, five actor processes each): after
 * Alice sends to Bob and both nodes stop, every file either node wrote (JetStream's included) is read. The body
 * must appear nowhere on Alice's side, and on Bob's only in his inbox log's stream (issue 17: "the body text never
 * appears in the clear outside the receiver's inbox").
 */
import { outboxHistory, outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startTwoNodes, stopNode } from './helpers.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

/** Every file under dir whose bytes contain `needle` (read whole: the data dirs of a test are small). */
async function filesContaining(dir: string, needle: string): Promise<{ files: number; hits: string[] }> {
  const bytes = Buffer.from(needle)
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const hits: string[] = []
  let files = 0
  for (const e of entries) {
    if (!e.isFile()) continue
    const path = join(e.parentPath, e.name)
    const content = await readFile(path).catch(() => undefined)
    if (!content) continue
    files++
    if (content.includes(bytes)) hits.push(path)
  }
  return { files, hits }
}

describe('sealed delivery at rest and on the way', () => {
  it("the body is in no file Alice's node wrote, and in Bob's only in his inbox log", async () => {
    const { a, b, bob } = await startTwoNodes(cleanup)
    const marker = `sealed-${randomUUID().slice(0, 23)}`
    const sent = await a.bus.request(outboxSend, { to: bob, body: `secret: ${marker}` })
    // the reply's preview is opened from the sealed copy
    expect(sent.preview).toContain(marker)
    // Alice's history shows it (opened from the copy sealed to her device)
    expect((await a.bus.request(outboxHistory, { peer: bob })).messages.find((m) => m.id === sent.id)?.body).toBe(`secret: ${marker}`)
    await waitUntil(async () => (await b.bus.request(outboxInbox, { limit: 1000 })).messages.some((m) => m.id === sent.id), { timeoutMs: 60_000, what: "message in Bob's inbox" })
    await waitUntil(async () => (await a.bus.request(outboxStatus, { id: sent.id })).devices.every((d) => d.state === 'delivered'), { timeoutMs: 30_000, what: 'delivered at Alice' })
    // stopped: JetStream and the logs have written everything down
    await stopNode(a)
    await stopNode(b)

    const onA = await filesContaining(a.dataDir, marker)
    const onB = await filesContaining(b.dataDir, marker)
    process.stdout.write(`scanned ${onA.files} files of Alice's node, ${onB.files} of Bob's; Bob's hits: ${onB.hits.join(', ')}\n`)
    expect(onA.files).toBeGreaterThan(10)
    expect(onA.hits).toEqual([])
    // the scan does find it where it belongs, and only there: Bob's conversation stores (his inbox log, his history)
    expect(onB.hits.length).toBeGreaterThan(0)
    for (const path of onB.hits) expect(path).toMatch(/[/\\]KV_(inbox-log|history)[/\\]/)
  }, 240_000) // two nodes start inside it
})
