import { ANY_CALLER, canRead, type EventContract, eventSubject, NODE_ACTOR, type RequestContract, SUBJECT_ROOT, requestSubject } from '@baran/bus/client'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { NodeConfig } from './config.ts'
import type { NodePaths } from './paths.ts'

/** Bus users that are not actors. */
export const SUPERVISOR_USER = 'supervisor'
export const CLI_USER = 'cli'
export const UI_USER = 'ui'

export interface Permissions {
  publish: string[]
  subscribe: string[]
}

/**
 * Least privilege, derived from the contracts: a user may publish a request only to the contracts whose
 * `callers` name it, may serve only its own subjects, read only its own reply inbox, and hear only the events
 * whose `readers` name it (`events`: none when absent). So `transport` cannot call `identity.exportArchive`,
 * nor listen in on it, and `naming` cannot read the bodies of received messages (`outbox.evt.received`).
 */
export function permissionsFor(
  user: string,
  node: string,
  contracts: ReadonlyArray<Pick<RequestContract, 'actor' | 'verb' | 'callers'>>,
  opts: { actor: boolean; jetstream?: boolean; events?: readonly EventContract[] },
): Permissions {
  const root = `${SUBJECT_ROOT}.${node}`
  const calls = contracts.filter((c) => c.callers.includes(user) || c.callers.includes(ANY_CALLER)).map((c) => requestSubject(node, c.actor, c.verb))
  const own = user === SUPERVISOR_USER ? NODE_ACTOR : user
  const publish = [...new Set(calls)]
  const hears = (opts.events ?? []).filter((e) => canRead(e, user)).map((e) => eventSubject(node, e.actor, e.event))
  const subscribe = [...new Set(hears), `_INBOX_${user}.>`]
  if (opts.actor || user === SUPERVISOR_USER) {
    publish.push(`${root}.${own}.evt.>`)
    subscribe.push(`${root}.${own}.>`, '$SRV.>')
  } else {
    // Tools may ping and inspect services.
    publish.push('$SRV.>')
  }
  // A key/value write is a publish to $KV.<bucket>.<key>.
  if (opts.jetstream) publish.push('$JS.API.>', '$JS.ACK.>', '$KV.>')
  return { publish, subscribe }
}

/** One random password per bus user, created once and kept in `bus/users.json` (0600). */
export async function loadOrCreatePasswords(paths: NodePaths, users: readonly string[]): Promise<Record<string, string>> {
  let known: Record<string, string> = {}
  try {
    known = JSON.parse(await readFile(paths.users, 'utf8')) as Record<string, string>
  } catch {
    known = {}
  }
  let changed = false
  for (const u of users) {
    if (typeof known[u] !== 'string' || known[u].length < 16) {
      known[u] = randomBytes(24).toString('base64url')
      changed = true
    }
  }
  if (changed) await writePrivate(paths.users, `${JSON.stringify(known, null, 2)}\n`)
  await mkdir(paths.credsDir, { recursive: true, mode: 0o700 })
  for (const u of users) await writePrivate(paths.creds(u), `${JSON.stringify({ user: u, pass: known[u] })}\n`)
  return known
}

async function writePrivate(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  await writeFile(file, text, { mode: 0o600 })
}

/**
 * The node's nats-server config: loopback only, a random port (the ports file tells which), JetStream in the
 * data dir, one user per actor and tool. Written as JSON, which the NATS config format accepts as is.
 */
export function natsConfig(opts: {
  node: string
  jetstreamDir: string
  users: Record<string, { pass: string; permissions: Permissions }>
}): string {
  const conf = {
    server_name: `baran_${opts.node}`,
    host: '127.0.0.1',
    port: -1,
    max_payload: 1024 * 1024,
    jetstream: { store_dir: opts.jetstreamDir, max_memory_store: 64 * 1024 * 1024, max_file_store: 8 * 1024 * 1024 * 1024 },
    authorization: {
      users: Object.entries(opts.users).map(([user, u]) => ({
        user,
        password: u.pass,
        permissions: { publish: { allow: u.permissions.publish }, subscribe: { allow: u.permissions.subscribe }, allow_responses: true },
      })),
    },
  }
  return `${JSON.stringify(conf, null, 2)}\n`
}

/** The bus user and password a config names for an external bus (none: the embedded bus's own users). */
export function credsFromConfig(config: NodeConfig): { user?: string; pass?: string } {
  return config.bus.user ? { user: config.bus.user, pass: config.bus.pass ?? '' } : {}
}
