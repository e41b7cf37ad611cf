/**
 * The node as `npm start` runs it: the built JavaScript (tools/build.mjs), the supervisor from the command line's
 * bundle and each default actor from its one-file bundle (tools/bundle-actors.mjs). Every other e2e test runs the sources, so this one proves the bundles do the
 * actors' jobs for real: two built nodes on one local network, a name registered on one and looked up from the
 * other, a message sealed, sent, opened and acknowledged between them.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { outboxInbox, outboxSend, outboxStatus } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_ACTORS, DEFAULT_PROCESSES } from '../src/lib/implementations.ts'
import { actorLog, BUILT_CLI, BUILT_START, cli, type NodePair, startTwoNodes } from './helpers.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const ACTORS = Object.keys(DEFAULT_ACTORS)
const cleanup = new Cleanup()
let pair: NodePair

/** The command line of a running process, as its arguments. */
const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)

describe('the built node (npm start): the supervisor and the actors run from their bundles', () => {
  beforeAll(async () => {
    // Incremental: builds (and bundles) only what changed since the last build; nothing after `npm test`'s set-up.
    execFileSync(process.execPath, [`${ROOT}tools/build.mjs`], { stdio: 'inherit', timeout: 240_000 })
    for (const name of ACTORS) expect(existsSync(`${ROOT}packages/${name}/dist/actor.bundle.js`), `${name} bundle`).toBe(true)
    expect(existsSync(BUILT_START), 'the command line bundle').toBe(true)
    pair = await startTwoNodes(cleanup, { built: true })
  }, 300_000)
  afterAll(() => cleanup.run())

  it('runs the supervisor and each of the five actors as its bundle (identity, naming and outbox as threads of one process), all ready', async () => {
    expect(existsSync(BUILT_CLI)).toBe(true)
    for (const n of [pair.a, pair.b]) {
      expect(argv(n.proc.pid)).toContain(BUILT_START)
      const s = await waitUntil(
        async () => {
          const st = await n.status()
          return ACTORS.every((a) => st.actors[a]?.state === 'ready') ? st : undefined
        },
        { timeoutMs: 60_000, what: `five actors ready on ${n.node}` },
      )
      for (const name of ACTORS) {
        const bundle = `${ROOT}packages/${name}/dist/actor.bundle.js`
        const args = argv(s.actors[name]?.pid ?? -1)
        expect(args.some((a) => a.startsWith('--conditions')), `${name} runs no sources`).toBe(false)
        if (DEFAULT_PROCESSES[name]) {
          // a thread of the shared process (built entry), started with its bundle
          expect(s.actors[name]?.process, `${n.node} ${name}`).toBe(DEFAULT_PROCESSES[name])
          expect(args.at(-1)).toBe(`${ROOT}apps/node/dist/actor-host.js`)
          const started = (await actorLog(n, name)).filter((l) => l.msg === 'thread started')
          expect(started.at(-1)?.entry, `${n.node} ${name}`).toBe(bundle)
        } else expect(args.at(-1), `${n.node} ${name}`).toBe(bundle)
      }
    }
  })

  it('delivers a sealed message from one built node to the other, acknowledged once', async () => {
    const { a, b, bob } = pair
    const sent = await a.bus.request(outboxSend, { to: bob, body: 'from a bundled outbox', idempotencyKey: 'bundled-e2e-first-send' })
    const got = await waitUntil(
      async () => {
        const mine = (await b.bus.request(outboxInbox, { limit: 100 })).messages.filter((m) => m.id === sent.id)
        return mine.length > 0 ? mine : undefined
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: "the message in bob's inbox",
      },
    )
    expect(got).toHaveLength(1)
    expect(got[0]?.body).toBe('from a bundled outbox')
    await waitUntil(async () => (await a.bus.request(outboxStatus, { id: sent.id })).devices[0]?.state === 'delivered', {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'delivered, as alice records it',
    })
  })

  it('registers a name on one built node (identity signs, naming sends it to the local chain) that the other resolves', async () => {
    const name = `bundled-${process.pid.toString(36)}`
    const r = await cli(cleanup, ['register', name, '--data-dir', pair.a.dataDir])
    expect(r.code, r.out).toBe(0)
    const found = await cli(cleanup, ['lookup', name, '--data-dir', pair.b.dataDir, '--json'])
    expect(found.code, found.out).toBe(0)
    expect(JSON.parse(found.out)).toMatchObject({ name, accountId: pair.alice })
  })
})
