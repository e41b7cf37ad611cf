/**
 * A LAN in network namespaces for end-to-end tests: hosts on one bridge (10.77.0.0/24), each in its own namespace
 * with only `lo` and its link to the bridge, and no route anywhere else (nothing leaves the lab; the only extra
 * route is 224.0.0.0/4 on the link, so mDNS multicast has an interface to go out of). A host may have IPv6 turned
 * off. Real `baran` processes run inside a host's namespace with `ip netns exec`.
 */
import { type Cleanup, finished, type SpawnedProcess, spawnCommand, waitUntil } from '@baran/testkit'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { actorLog, BARAN } from './helpers.ts'

const run = promisify(execFile)

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args, { timeout: 10_000 })).stdout
}

export interface LanHost {
  /** The namespace's name. */
  ns: string
  /** Its address on the LAN. */
  addr: string
}

export interface Lan {
  hosts: LanHost[]
  /** Runs a command inside a host's namespace and returns its stdout. */
  exec(host: LanHost, cmd: string, args: string[]): Promise<string>
  teardown(): Promise<void>
}

/** Builds the LAN: a switch namespace with a bridge, and one namespace per host (`ipv6: false` turns it off there). */
export async function createLan(cleanup: Cleanup, hosts: Array<{ ipv6?: boolean }>): Promise<Lan> {
  const tag = randomBytes(3).toString('hex')
  const sw = `blan-${tag}-sw`
  const made: string[] = []
  const teardown = async () => {
    for (const ns of made.splice(0).reverse()) await ip('netns', 'del', ns).catch(() => undefined)
  }
  cleanup.add(`remove LAN ${tag}`, teardown)
  await ip('netns', 'add', sw)
  made.push(sw)
  await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
  await ip('-n', sw, 'link', 'set', 'br0', 'up')
  const out: LanHost[] = []
  for (const [i, h] of hosts.entries()) {
    const ns = `blan-${tag}-h${i}`
    const addr = `10.77.0.${i + 1}`
    await ip('netns', 'add', ns)
    made.push(ns)
    if (h.ipv6 === false) await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    await ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', sw)
    await ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up')
    await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    await ip('-n', ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    out.push({ ns, addr })
  }
  return {
    hosts: out,
    exec: async (host, cmd, args) => (await run('ip', ['netns', 'exec', host.ns, cmd, ...args], { timeout: 60_000 })).stdout,
    teardown,
  }
}

/**
 * Spawns the `baran` CLI inside a host's namespace (`ip netns exec` execs it: the pid is the CLI's own), with
 * `env` on top of this process's environment minus every BARAN_ variable: a node as a user starts it.
 */
export function spawnIn(cleanup: Cleanup, host: LanHost, args: string[], env: NodeJS.ProcessEnv): SpawnedProcess {
  const base: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BARAN_')) base[k] = v
  return spawnCommand('ip', ['netns', 'exec', host.ns, BARAN, ...args], { cleanup, env, baseEnv: base })
}

/** Runs one CLI command inside a host's namespace to its end: exit code and output. */
export async function cliIn(cleanup: Cleanup, host: LanHost, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const p = spawnIn(cleanup, host, args, env)
  const { code } = await finished(p)
  return { code, out: p.output.join('\n') }
}

/** A `baran start` process tree running in a namespace, with the environment its CLI commands need. */
export interface LanNode {
  host: LanHost
  home: string
  dataDir: string
  env: NodeJS.ProcessEnv
  proc: SpawnedProcess
  stop(): Promise<void>
}

export interface NodeStatus {
  state: string
  actors: Record<string, { state: string; reason?: string; pid?: number }>
  connections: {
    list: Array<{ peerId: string; kind: string; path: string; remoteAddr: string; upgraded?: boolean }>
    reachability?: { fromOutside: boolean; publicAddrs: string[]; relays: Array<{ relay: string; reserved: boolean }>; why: string[] }
  }
}

/**
 * `baran start --create-account` in the host's namespace, BARAN_HOME plus `extraEnv` its only settings (`args` may
 * add e.g. `--config`); waits until every actor is ready.
 */
export async function startNodeIn(cleanup: Cleanup, host: LanHost, home: string, extraEnv: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<LanNode> {
  const env = { BARAN_HOME: home, ...extraEnv }
  const proc = spawnIn(cleanup, host, ['start', '--create-account', ...args], env)
  const node: LanNode = {
    host,
    home,
    dataDir: join(home, 'default'),
    env,
    proc,
    stop: async () => {
      const { code } = await proc.stop('SIGTERM', 20_000)
      if (code !== 0) throw new Error(`node on ${host.addr} exited with ${code}: ${proc.output.slice(-20).join('\n')}`)
    },
  }
  let last = ''
  const exitedEarly = () => {
    if (proc.child.exitCode !== null) throw new Error(`baran start exited: ${proc.output.join('\n')}`)
  }
  // `baran start` says when the node is up: read its output rather than run a CLI process every second meanwhile.
  const isUp = () => {
    exitedEarly()
    return proc.output.some((l) => /node \S+ is up/.test(l))
  }
  await waitUntil(isUp, { timeoutMs: 150_000, intervalMs: 250, what: `node on ${host.addr} up` }).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; output: ${proc.output.slice(-15).join('\n')}`)
  })
  await waitUntil(
    async () => {
      exitedEarly()
      const s = await statusOf(cleanup, node)
      last = `${s.state}: ${Object.entries(s.actors).map(([k, a]) => `${k} ${a.state}${a.reason ? ` (${a.reason})` : ''}`).join(', ')}`
      return s.state === 'running' && Object.values(s.actors).every((a) => a.state === 'ready') && s
    },
    { timeoutMs: 60_000, intervalMs: 2000, what: `node on ${host.addr} ready` },
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; last status ${last || 'none'}; output: ${proc.output.slice(-15).join('\n')}`)
  })
  return node
}

/** `baran status --json`, run in the node's namespace (its bus listens on that namespace's loopback). */
export async function statusOf(cleanup: Cleanup, n: LanNode): Promise<NodeStatus> {
  const r = await cliIn(cleanup, n.host, ['status', '--json'], n.env)
  return JSON.parse(r.out) as NodeStatus
}

export async function accountOf(cleanup: Cleanup, n: LanNode): Promise<string> {
  const r = await cliIn(cleanup, n.host, ['account', 'show', '--json'], n.env)
  return (JSON.parse(r.out) as { accountId: string }).accountId
}

/** The transport actor's libp2p peer ID, from its log. */
export async function transportPeerOf(n: LanNode): Promise<string> {
  const up = (await actorLog(n, 'transport')).findLast((l) => l.msg === 'libp2p host listening')
  return String(up?.peerId)
}

/** The message reached `to`'s inbox (polled with `baran inbox --json`). */
export async function waitForMessage(cleanup: Cleanup, to: LanNode, body: string, timeoutMs = 90_000): Promise<void> {
  await waitUntil(
    async () => {
      const r = await cliIn(cleanup, to.host, ['inbox', '--json'], to.env)
      return (JSON.parse(r.out) as Array<{ body: string }>).some((m) => m.body === body)
    },
    { timeoutMs, intervalMs: 1000, what: `"${body}" in the inbox on ${to.host.addr}` },
  )
}
