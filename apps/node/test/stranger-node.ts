/**
 * A real node process running identity and outbox on an external nats-server (the `bus.url` setting), so a test can
 * play the transport actor and hand the outbox incoming envelopes; and a stranger: another account's device (a real
 * identity actor on its own bus) that seals those envelopes to the node's device. Used by the message and history
 * command tests.
 */
import { type AccountSummary, type Bus, identityCreate, identityPeerBinding, identitySeal, nodeStatus, outboxReceive } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { encodePayload, type Payload } from '@baran/outbox'
import { type Cleanup, runInline, setupNats, tempDir, waitUntil } from '@baran/testkit'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cli, spawnBaran } from './helpers.ts'

export interface StrangerNode {
  /** The node's bus (this test's client) and its data dir (for `baran … --data-dir`). */
  bus: Bus
  dataDir: string
  /** The node's account, created through `baran account create`. */
  me: { accountId: string; deviceId: string }
  stranger: { bus: Bus; me: AccountSummary }
  /** Hands the node's outbox the stranger's message, sealed to the node's device, as transport does. */
  deliver(msg: { id: string; body: string; prev?: string }): Promise<'stored' | 'duplicate' | 'rejected'>
}

export async function startStrangerNode(cleanup: Cleanup, node: string): Promise<StrangerNode> {
  const nats = await setupNats({ cleanup, node, jetstream: true })
  const bus = nats.bus
  const parent = await tempDir(cleanup, `baran-${node}-`)
  const dataDir = join(parent, node)
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ bus: { url: nats.url }, actors: { identity: '@baran/identity', outbox: '@baran/outbox' } }))
  const proc = spawnBaran(cleanup, ['start', '--data-dir', dataDir], { env: { BARAN_HOME: parent } })
  await waitUntil(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`baran start exited: ${proc.output.join('\n')}`)
      return JSON.parse(await readFile(join(dataDir, 'node.json'), 'utf8'))
    },
    { timeoutMs: 30_000, what: 'node.json' },
  )
  await waitUntil(async () => (await bus.request(nodeStatus, {})).state === 'running', { timeoutMs: 60_000, what: 'node running' })
  const r = await cli(cleanup, ['account', 'create', '--data-dir', dataDir, '--json'])
  if (r.code !== 0) throw new Error(`baran account create failed (${r.code}): ${r.out}`)
  const me = JSON.parse(r.out) as { accountId: string; deviceId: string }
  const sNats = await setupNats({ cleanup, node: `${node}-stranger`, jetstream: false })
  await runInline(identityActor, { cleanup, node: `${node}-stranger`, url: sNats.url, dataDir: await tempDir(cleanup), config: { kdf: { N: 1024, r: 8, p: 1 } } })
  const stranger = { bus: sNats.bus, me: await sNats.bus.request(identityCreate, {}) }
  const deliver = async ({ id, body, prev }: { id: string; body: string; prev?: string }) => {
    const now = Date.now()
    const { accountId, deviceId } = stranger.me
    const message: Payload = { v: 1, kind: 'message', id, from: accountId, fromDevice: deviceId, to: me.accountId, body, sentAt: now, expiresAt: now + 60_000, sync: false, ...(prev ? { prev } : {}) }
    const { deviceCert } = await bus.request(identityPeerBinding, { peerId: `12D3KooWStranger${node}` }, { node })
    const sealed = await stranger.bus.request(identitySeal, { id, payload: Buffer.from(encodePayload(message)).toString('base64'), recipients: [deviceCert] })
    return (await bus.request(outboxReceive, { id, payload: sealed.envelope, from: { accountId, deviceId, peerId: 'p' } }, { node })).status
  }
  return { bus, dataDir, me, stranger, deliver }
}
