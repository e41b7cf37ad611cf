import { type Bus, identityContracts, identityCreate, identityOpen } from '@baran/bus'
import { identityActor } from '@baran/identity'
import { Cleanup, runInline, tempDir } from '@baran/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_USER } from '../src/lib/bus-auth.ts'
import { ACTORS, NODE, permissionedBuses } from './permissioned-buses.ts'

// The supervisor's nats-server config and a real identity actor: who may ask it to seal and open envelopes.
const USERS = [...ACTORS, CLI_USER]
const cleanup = new Cleanup()
let buses = new Map<string, Bus>()

beforeAll(async () => {
  buses = await permissionedBuses(cleanup, USERS, identityContracts)
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
