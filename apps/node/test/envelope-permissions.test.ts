import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Bus, eventContracts, identityContracts, identityCreate, identityOpen } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { NatsServerProcess } from '@baran/launch'
import { Cleanup, runInline, tempDir } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_USER, natsConfig, permissionsFor } from '../src/lib/bus-auth.ts'

// The supervisor's nats-server config and a real identity actor: who may ask it to seal and open envelopes.
const NODE = 'n1'
const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox'] as const
const USERS = [...ACTORS, CLI_USER]
const cleanup = new Cleanup()
const buses = new Map<string, Bus>()

beforeAll(async () => {
  const dir = await tempDir(cleanup, 'baran-envelope-perms-')
  const users = Object.fromEntries(
    USERS.map((u) => [u, { pass: `pass-of-${u}-0123456789`, permissions: permissionsFor(u, NODE, identityContracts, { actor: (ACTORS as readonly string[]).includes(u), jetstream: u === 'outbox', events: eventContracts }) }]),
  )
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, natsConfig({ node: NODE, jetstreamDir: join(dir, 'js'), users }))
  const server = await new NatsServerProcess({ configFile, workDir: dir, logFile: join(dir, 'nats.log') }).start()
  cleanup.add('stop nats-server', () => server.stop())
  for (const u of USERS) {
    const bus = await Bus.connect({ servers: server.url, node: NODE, user: u, pass: users[u]?.pass ?? '' })
    cleanup.add(`close ${u}`, () => bus.close())
    buses.set(u, bus)
  }
  await runInline(identityActor, { cleanup, node: NODE, bus: buses.get('identity')!, dataDir: await tempDir(cleanup), config: { kdf: { N: 1024, r: 8, p: 1 } } })
  await buses.get(CLI_USER)!.request(identityCreate, {})
}, 30_000)
afterAll(() => cleanup.run())

describe('identity.seal / identity.open permissions', () => {
  const junk = Buffer.from('not an envelope').toString('base64')

  for (const user of ['outbox', 'transport', CLI_USER]) {
    it(`${user} may call them (its garbage reaches the actor and is refused as malformed)`, async () => {
      await expect(buses.get(user)!.request(identityOpen, { envelope: junk })).rejects.toMatchObject({ code: 'malformed' })
    })
  }

  for (const user of ['naming', 'discovery']) {
    it(`${user} may not`, async () => {
      await expect(buses.get(user)!.request(identityOpen, { envelope: junk })).rejects.toMatchObject({ code: 'forbidden' })
    })
  }
})
