/**
 * Full nodes (`baran start` trees) in the NAT lab's homes, shared by the NAT-type matrix tests: a node set up the way
 * a user behind a home router would (the lab's relay for DHT bootstrap, circuit relay and STUN; no mDNS), a transport
 * restart that starts a trial with no connection, and the transport's logged upgrade attempts.
 */
import type { LabHost, NatLab } from '@baran/natlab'
import { type Cleanup, tempDir, waitUntil } from '@baran/testkit'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { actorLog } from './helpers.ts'
import { type LanHost, type LanNode, startNodeIn, statusOf } from './lan-lab.ts'

// Behind their NATs the nodes use the DHT as clients: a DHT server nobody can dial only makes every lookup wait for
// it to time out (the relay's DHT node is the network's one server here). Naming is left out (messages go to account
// IDs): it needs a chain and adds nothing here.
const ACTORS = {
  identity: '@baran/identity',
  discovery: { module: '@baran/discovery', config: { clientMode: true } },
  transport: '@baran/transport',
  outbox: '@baran/outbox',
}

/** A node in one of the lab's homes: its own BARAN_HOME, the relay for DHT bootstrap and circuit relay, no mDNS; UPnP on only if asked. */
export async function labNode(cleanup: Cleanup, lab: NatLab, home: 'a' | 'b', relay: LabHost & { addr: string }, opts: { upnp?: boolean } = {}): Promise<LanNode> {
  const dir = await tempDir(cleanup, `baran-nat-${home}-`)
  await mkdir(join(dir, 'default'), { recursive: true })
  // Every trial kills A's transport: more restarts in a minute than the supervisor's crash-loop guard allows by default.
  const supervisor = { restart: { initialMs: 100, maxMs: 1000, crashLoopCount: 100, crashLoopWindowMs: 60_000 } }
  await writeFile(join(dir, 'default', 'config.json'), JSON.stringify({ actors: ACTORS, supervisor }))
  const ready = relay.events.find((e) => e.event === 'ready') as { dht?: string[] } | undefined
  const dht = ready?.dht?.find((a) => a.includes(lab.addresses.relay))
  if (!dht) throw new Error(`the relay printed no DHT address: ${JSON.stringify(ready)}`)
  const host: LanHost = { ns: lab.namespaces[home], addr: lab.addresses[home] }
  return startNodeIn(cleanup, host, dir, {
    BARAN_DISCOVERY_BOOTSTRAP: dht,
    BARAN_TRANSPORT_RELAYS: relay.addr,
    BARAN_DISCOVERY_MDNS: 'false',
    BARAN_TRANSPORT_UPNP: opts.upnp === true ? 'true' : 'false',
  })
}

/**
 * Kills the node's transport actor (SIGKILL) and waits until its supervisor runs a new one that is ready, as
 * `baran start` prints it (cheaper than asking `baran status` every second on a loaded machine).
 */
export async function restartTransport(cleanup: Cleanup, n: LanNode): Promise<void> {
  const pid = (await statusOf(cleanup, n)).actors.transport?.pid
  if (!pid) throw new Error(`no transport pid on ${n.host.addr}`)
  const from = n.proc.output.length
  process.kill(pid, 'SIGKILL')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the start command paints its lines
  const plain = (l: string) => l.replace(/\x1b\[[0-9;]*m/g, '')
  await waitUntil(() => n.proc.output.slice(from).some((l) => /^\s*transport\s+ready\s+pid (\d+)/.test(plain(l)) && !plain(l).includes(`pid ${pid} `)), {
    timeoutMs: 90_000,
    intervalMs: 200,
    what: `a new transport ready on ${n.host.addr}`,
  })
}

export type Upgrade = { msg: string; peerId?: string; result?: string; ms?: number; attempt?: number; reason?: string; time?: string }

/** The node's upgrade attempts towards `peer` logged after `since`. */
export async function upgradesTo(n: LanNode, peer: string, since: number): Promise<Upgrade[]> {
  return ((await actorLog(n, 'transport')) as Upgrade[]).filter((l) => l.peerId === peer && typeof l.result === 'string' && Date.parse(l.time ?? '') >= since)
}
