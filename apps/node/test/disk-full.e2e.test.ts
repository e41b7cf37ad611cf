/**
 * A full disk under a real node (supervisor, nats-server, five actor processes) whose data dir is on a small
 * tmpfs: the node survives, refuses sends with the reason instead of hanging, says so in `baran status`, does
 * not duplicate a retried send, and recovers by itself once space is back, every accepted message delivered once.
 * Mounting needs root (CAP_SYS_ADMIN): the suite is skipped, saying so, where it cannot mount.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, openSync, rmSync, writeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, startTwoNodes, type TestNode } from './helpers.ts'

/** Why the suite cannot run here, or undefined when it can (root and a tmpfs mount that works). */
function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (id -u is not 0)'
  const probe = spawnSync('sh', ['-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=1m tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r'])
  return probe.status === 0 ? undefined : `cannot mount a tmpfs here: ${probe.stderr.toString().trim()}`
}
const skip = cannotMount()
if (skip) console.warn(`disk-full e2e skipped: ${skip}`)

const cleanup = new Cleanup()
let mnt: string
let a: TestNode
let b: TestNode
let bob: string

/** Fills the filesystem with one file until ENOSPC (bounded: at most 1 GiB). */
function fill(file: string): number {
  const chunk = Buffer.alloc(256 * 1024, 7)
  const fd = openSync(file, 'w')
  let written = 0
  try {
    for (let i = 0; i < 4096; i++) written += writeSync(fd, chunk)
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e
  } finally {
    closeSync(fd)
  }
  return written
}

async function busPidOf(n: TestNode): Promise<number> {
  return (JSON.parse(await readFile(join(n.dataDir, 'node.json'), 'utf8')) as { busPid: number }).busPid
}

async function inbox(n: TestNode): Promise<Array<{ id: string; body: string }>> {
  return (await n.bus.request(outboxInbox, { limit: 10_000 })).messages
}

describe.skipIf(skip !== undefined)('a full disk under the data dir', () => {
  beforeAll(async () => {
    mnt = await tempDir(cleanup, 'baran-diskfull-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt])
    cleanup.add(`umount ${mnt}`, () => {
      // Lazy as a fallback: a process that is still dying must not leave the mount behind.
      if (spawnSync('umount', [mnt]).status !== 0) execFileSync('umount', ['-l', mnt])
    })
    ;({ a, b, bob } = await startTwoNodes(cleanup, { aliceDataDir: join(mnt, 'alice') }))
  }, 120_000)
  afterAll(() => cleanup.run())

  it('survives, refuses with the reason, does not duplicate a retry, and recovers by itself', async () => {
    const before = await a.status()
    const busPid = await busPidOf(a)
    const accepted: string[] = []
    accepted.push((await a.bus.request(outboxSend, { to: bob, body: 'before the disk filled', idempotencyKey: 'key-before-the-disk-fills' })).id)

    const filler = join(mnt, 'filler')
    fill(filler)
    // Degraded with the reason, in node.status and in `baran status` (exit 4: not all ready).
    const degraded = await waitUntil(
      async () => {
        const s = (await a.status()).actors.outbox
        return s?.state === 'degraded' && s.reason ? s.reason : undefined
      },
      { timeoutMs: 20_000, what: 'outbox degraded' },
    )
    expect(degraded).toMatch(/^JetStream unavailable: disk full/)
    const status = await cli(cleanup, ['status', '--data-dir', a.dataDir])
    expect(status.code).toBe(4)
    expect(status.out).toMatch(/outbox\s+degraded/)
    expect(status.out).toContain('JetStream unavailable: disk full')

    // A send is refused at once with the reason (never a timeout that stored it after all)…
    const refused = await a.bus.request(outboxSend, { to: bob, body: 'sent while the disk is full', idempotencyKey: 'key-sent-while-disk-full' }).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    )
    expect(refused?.code).toBe('unavailable')
    expect(refused?.message).toContain('disk full')
    // …and the CLI says so with exit 4.
    const viaCli = await cli(cleanup, ['send', bob, 'cli send while full', '--data-dir', a.dataDir])
    expect(viaCli.code).toBe(4)
    expect(viaCli.out).toContain('disk full')
    // The supervisor and nats-server lived through it (actor logs hit ENOSPC all along).
    expect(a.proc.child.exitCode).toBeNull()

    rmSync(filler)
    await waitUntil(async () => (await a.status()).actors.outbox?.state === 'ready', { timeoutMs: 30_000, what: 'outbox ready again without a restart' })
    const after = await a.status()
    expect(after.pid).toBe(before.pid)
    expect(after.actors.outbox?.pid).toBe(before.actors.outbox?.pid)
    expect(await busPidOf(a)).toBe(busPid)

    // The user retries the refused send (same key) twice, the second time racing a third copy: stored once.
    const retried = await a.bus.request(outboxSend, { to: bob, body: 'sent while the disk is full', idempotencyKey: 'key-sent-while-disk-full' })
    const again = await Promise.all([0, 1].map(() => a.bus.request(outboxSend, { to: bob, body: 'sent while the disk is full', idempotencyKey: 'key-sent-while-disk-full' })))
    expect(again.map((r) => r.id)).toEqual([retried.id, retried.id])
    accepted.push(retried.id)
    // A retry of the first message (sent before the disk filled) is the same message too.
    expect((await a.bus.request(outboxSend, { to: bob, body: 'before the disk filled', idempotencyKey: 'key-before-the-disk-fills' })).id).toBe(accepted[0])

    const got = await waitUntil(
      async () => {
        const all = await inbox(b)
        return accepted.every((id) => all.some((m) => m.id === id)) ? all : undefined
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'every accepted message in bob inbox' },
    )
    for (const body of ['before the disk filled', 'sent while the disk is full']) expect(got.filter((m) => m.body === body)).toHaveLength(1)
    expect(got.some((m) => m.body === 'cli send while full')).toBe(false)
    // Bob stores before his receipt travels back, and a receipt that reached alice while her disk was full is
    // recorded on the next resend (bob dedupes it): wait for the sender's record rather than read it once.
    for (const id of accepted) {
      await waitUntil(async () => (await a.bus.request(outboxStatus, { id })).devices[0]?.state === 'delivered', {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: `message ${id} recorded as delivered by alice`,
      })
    }
  }, 180_000)
})
