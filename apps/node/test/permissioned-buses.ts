/**
 * A real nats-server with the config the supervisor writes (one user per actor and tool, each with the permissions
 * `permissionsFor` gives it for `requests`), and one connection per user: what the permission tests ask through.
 */
import { Bus, eventContracts, type RequestContract } from '@baran/bus'
import { NatsServerProcess } from '@baran/launch'
import { type Cleanup, tempDir } from '@baran/testkit'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { natsConfig, permissionsFor } from '../src/lib/bus-auth.ts'

export const NODE = 'n1'
export const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox'] as const

/** Starts the server and connects every user in `users`; the map is keyed by user name. */
export async function permissionedBuses(cleanup: Cleanup, users: readonly string[], requests: ReadonlyArray<Pick<RequestContract, 'actor' | 'verb' | 'callers'>>): Promise<Map<string, Bus>> {
  const dir = await tempDir(cleanup, 'baran-perms-')
  const config = Object.fromEntries(
    users.map((u) => [u, { pass: `pass-of-${u}-0123456789`, permissions: permissionsFor(u, NODE, requests, { actor: (ACTORS as readonly string[]).includes(u), jetstream: u === 'outbox', events: eventContracts }) }]),
  )
  const configFile = join(dir, 'nats.conf')
  await writeFile(configFile, natsConfig({ node: NODE, jetstreamDir: join(dir, 'js'), users: config }))
  const server = await new NatsServerProcess({ configFile, workDir: dir, logFile: join(dir, 'nats.log') }).start()
  cleanup.add('stop nats-server', () => server.stop())
  const buses = new Map<string, Bus>()
  for (const u of users) {
    const bus = await Bus.connect({ servers: server.url, node: NODE, user: u, pass: config[u]?.pass ?? '' })
    cleanup.add(`close ${u}`, () => bus.close())
    buses.set(u, bus)
  }
  return buses
}
