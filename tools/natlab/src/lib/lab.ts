/**
 * Builds and removes NAT labs. Everything a lab makes lives inside its own namespaces (no link to
 * the real machine's network), so deleting the namespaces removes every veth, bridge, address,
 * route and nftables table with them; the processes inside are ended first, since a namespace
 * that still holds a process outlives `ip netns del`.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { dieWithParent, stopChild } from '@baran/launch'
import { addressesOf, INSTALL_TIMEOUT_MS, LAB_NODES, type LabAddresses, type LabNode, type PublicNet, STOP_GRACE_MS } from './constants.ts'
import { exec, succeeds } from './exec.ts'
import { LabSetupError, LabTeardownError, ToolsMissingError, UnknownNodeError } from './errors.ts'
import { waitUntilReachable } from './reach.ts'
import { buildPlan, checkTag, type LabNames, type LabNats, labNames, randomTag, tagOfNamespace } from './plan.ts'
import { type LabIgd, startIgd } from './upnp.ts'

export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export interface NatLabInit {
  /** Names every namespace, interface and table of the lab. @default 6 random characters of [a-z0-9] */
  tag?: string
  /** Install iproute2 and nftables with apt-get when missing (as root). @default true */
  install?: boolean
  /** Each router's NAT type (plan.ts NAT_TYPES). @default port-restricted for both */
  nats?: LabNats
  /**
   * The public network: TEST-NET-2 (private to libp2p and miniupnpd) or addresses both count as
   * public (constants.ts ROUTABLE_NET; still never routed beyond the lab). @default 'test-net'
   */
  publicNet?: PublicNet
  log?: Logger
}

export interface NatLab {
  readonly tag: string
  /** The real namespace names, by node. */
  readonly namespaces: Readonly<Record<LabNode, string>>
  /** The interface names and nftables table, for inspection. */
  readonly names: LabNames
  readonly addresses: LabAddresses
  /** The NAT type of each router. */
  readonly nats: Readonly<Required<LabNats>>
  /** The UPnP IGDs (miniupnpd) running on the routers `nats.upnp` named. */
  readonly igds: readonly LabIgd[]
  /**
   * Spawns `cmd args` inside the node's namespace (`ip netns exec`). The process is ended by
   * teardown() if it is still running then.
   */
  run(node: LabNode, cmd: string, args?: string[], opts?: SpawnOptions): ChildProcess
  /** Runs a command inside the node's namespace to completion; throws CommandFailedError on failure. */
  exec(node: LabNode, cmd: string, args?: string[], input?: string): Promise<{ stdout: string; stderr: string }>
  /** Ends the lab's processes and deletes its namespaces; throws LabTeardownError if anything is left. Idempotent. */
  teardown(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** What is left of a lab on the machine (all empty after a clean teardown). */
export interface Leftovers {
  namespaces: string[]
  links: string[]
  tables: string[]
}

export type NamespaceCheck = { ok: true } | { ok: false; reason: string }

const isRoot = () => process.getuid?.() === 0

/** A failed command's stderr, else the error's message. */
const whyFailed = (err: unknown) => (err as { stderr?: string }).stderr?.trim() || (err as Error).message

/** Installs iproute2 and nftables with apt-get when `ip` or `nft` is missing; throws ToolsMissingError when it cannot. */
export async function ensureTools(opts: { install?: boolean; log?: Logger } = {}): Promise<void> {
  const missing: string[] = []
  if (!(await succeeds('ip', ['-V']))) missing.push('iproute2')
  if (!(await succeeds('nft', ['--version']))) missing.push('nftables')
  if (missing.length === 0) return
  if (opts.install === false || !isRoot()) {
    throw new ToolsMissingError(`${missing.join(' and ')} missing: run 'apt-get install -y ${missing.join(' ')}' as root`)
  }
  opts.log?.info({ packages: missing }, 'installing Debian packages for the NAT lab')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await exec('apt-get', ['update', '-qq'], { env, timeoutMs: INSTALL_TIMEOUT_MS })
    await exec('apt-get', ['install', '-y', '-qq', ...missing], { env, timeoutMs: INSTALL_TIMEOUT_MS })
  } catch (err) {
    throw new ToolsMissingError(`could not install ${missing.join(' ')} with apt-get`, { cause: err })
  }
}

/**
 * Whether this process can build a lab here, found out by trying: root, the tools (installed
 * when missing), a probe namespace (CAP_NET_ADMIN), `ip netns exec` in it (CAP_SYS_ADMIN) and an
 * nftables table inside it (kernel nf_tables). The probe is removed again.
 */
export async function canCreateNamespaces(): Promise<NamespaceCheck> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (!isRoot()) return { ok: false, reason: 'network namespaces need root (CAP_NET_ADMIN); run as root' }
  try {
    await ensureTools()
  } catch (err) {
    return { ok: false, reason: (err as Error).message }
  }
  const probe = `natlab-probe-${randomTag()}`
  try {
    await exec('ip', ['netns', 'add', probe])
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace (ip netns add): ${whyFailed(err)}` }
  }
  try {
    await exec('ip', ['netns', 'exec', probe, 'nft', 'add', 'table', 'ip', 'natlab_probe'])
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `cannot use nftables inside a namespace: ${whyFailed(err)}` }
  } finally {
    await exec('ip', ['netns', 'del', probe]).catch(() => {})
  }
}

/** Tags of the labs whose namespaces exist on this machine (also ones left behind by a crashed run). */
export async function listLabs(): Promise<string[]> {
  const tags = new Set<string>()
  for (const name of await namespaceNames()) {
    const tag = tagOfNamespace(name)
    if (tag !== undefined) tags.add(tag)
  }
  return [...tags].sort()
}

/** What of the lab `tag` is still on the machine: its namespaces, and its links/tables in the root namespace. */
export async function leftovers(tag: string): Promise<Leftovers> {
  checkTag(tag)
  const names = labNames(tag)
  const all = new Set(Object.values(names.namespaces))
  const namespaces = (await namespaceNames()).filter((n) => all.has(n))
  // exact names: another lab's tag may start with this one
  const ours = new Set<string>(Object.values(names.links))
  const links = (await exec('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter((n) => ours.has(n))
  const tables = (await exec('nft', ['list', 'tables']).catch(() => ({ stdout: '' }))).stdout
    .split('\n')
    .filter((l) => l.trim().endsWith(` ${names.table}`))
    .map((l) => l.trim())
  return { namespaces, links, tables }
}

/**
 * Removes the lab `tag`: ends every process inside its namespaces (by pid), deletes the
 * namespaces, and any link or table named for it in the root namespace (there should be none).
 * Returns what it removed; throws LabTeardownError when something is still there afterwards.
 */
export async function destroyLab(tag: string, opts: { log?: Logger; only?: string[] } = {}): Promise<string[]> {
  checkTag(tag)
  const names = labNames(tag)
  const existing = new Set(await namespaceNames())
  const present = LAB_NODES.map((n) => names.namespaces[n]).filter((ns) => existing.has(ns) && (opts.only?.includes(ns) ?? true))
  await endProcessesIn(present)
  const removed: string[] = []
  for (const ns of present) {
    try {
      await exec('ip', ['netns', 'del', ns])
      removed.push(ns)
    } catch (err) {
      opts.log?.warn({ ns, err }, 'could not delete namespace')
    }
  }
  const left = await leftovers(tag)
  for (const link of left.links) {
    if (await succeeds('ip', ['link', 'del', link])) removed.push(link)
  }
  for (const line of left.tables) {
    const family = line.split(/\s+/)[1] ?? 'ip'
    if (await succeeds('nft', ['delete', 'table', family, names.table])) removed.push(line)
  }
  const after = await leftovers(tag)
  const rest = [...after.namespaces, ...after.links, ...after.tables]
  if (rest.length > 0) throw new LabTeardownError(`lab ${tag} left behind: ${rest.join(', ')}`)
  return removed
}

/** Builds a lab: a public network with a relay host, two homes behind their own NAT router. */
export async function createNatLab(init: NatLabInit = {}): Promise<NatLab> {
  const tag = init.tag === undefined ? randomTag() : checkTag(init.tag)
  await ensureTools({ install: init.install, log: init.log })
  const names = labNames(tag)
  if ((await listLabs()).includes(tag)) throw new LabSetupError(`a lab with tag ${tag} exists already (natlab down --tag ${tag})`)
  // on failure remove only the namespaces this call made (a clash must not remove someone else's)
  const made: string[] = []
  try {
    for (const step of buildPlan(names, init.nats, addressesOf(init.publicNet))) {
      await exec(step.cmd, step.args, { input: step.input })
      if (step.args[0] === 'netns' && step.args[1] === 'add') made.push(step.args[2]!)
    }
  } catch (err) {
    await destroyLab(tag, { log: init.log, only: made }).catch((e) => init.log?.error({ err: e }, 'cleaning up a failed lab'))
    throw new LabSetupError(`could not build NAT lab ${tag}: ${(err as Error).message}`, { cause: err })
  }
  const nats = {
    nat1: init.nats?.nat1 ?? 'port-restricted',
    nat2: init.nats?.nat2 ?? 'port-restricted',
    cgnat: init.nats?.cgnat ?? false,
    upnp: { nat1: init.nats?.upnp?.nat1 ?? false, nat2: init.nats?.upnp?.nat2 ?? false },
  } as const
  const lab = new Lab(names, nats, addressesOf(init.publicNet), init.log)
  try {
    // a built lab is not yet a working one: both homes must get out through their routers before anyone uses it
    await waitUntilReachable(lab, ['a', 'b'], lab.addresses.relay)
  } catch (err) {
    await lab.teardown().catch((e) => init.log?.error({ err: e }, 'cleaning up a failed lab'))
    throw err
  }
  try {
    for (const router of ['nat1', 'nat2'] as const) {
      if (nats.upnp[router]) lab.igds.push(await startIgd(lab, router))
    }
  } catch (err) {
    await lab.teardown().catch((e) => init.log?.error({ err: e }, 'cleaning up a failed lab'))
    throw new LabSetupError(`could not start UPnP on lab ${tag}: ${(err as Error).message}`, { cause: err })
  }
  init.log?.info({ tag }, 'NAT lab up')
  return lab
}

class Lab implements NatLab {
  readonly tag: string
  readonly namespaces: Readonly<Record<LabNode, string>>
  readonly names: LabNames
  readonly addresses: LabAddresses
  readonly nats: Readonly<Required<LabNats>>
  readonly igds: LabIgd[] = []
  private readonly children = new Set<ChildProcess>()
  private readonly log: Logger | undefined
  private tearingDown: Promise<void> | undefined

  constructor(names: LabNames, nats: Required<LabNats>, addresses: LabAddresses, log?: Logger) {
    this.nats = nats
    this.addresses = addresses
    this.tag = names.tag
    this.names = names
    this.namespaces = names.namespaces
    this.log = log
  }

  private ns(node: LabNode): string {
    const ns = this.namespaces[node]
    if (ns === undefined) throw new UnknownNodeError(`not a node of the lab: ${String(node)} (one of ${LAB_NODES.join(', ')})`)
    return ns
  }

  /** Runs a command inside a node's namespace; it gets SIGTERM if this process dies before the teardown. */
  run(node: LabNode, cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn(...dieWithParent('ip', ['netns', 'exec', this.ns(node), cmd, ...args]), { stdio: 'pipe', ...opts })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    child.once('error', () => this.children.delete(child))
    return child
  }

  exec(node: LabNode, cmd: string, args: string[] = [], input?: string): Promise<{ stdout: string; stderr: string }> {
    return exec('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { input })
  }

  teardown(): Promise<void> {
    this.tearingDown ??= (async () => {
      // our own children first, gently (they print their last lines); then anything else inside
      await Promise.all(this.igds.map((igd) => igd.stop()))
      await Promise.all([...this.children].map((c) => stopChild(c, STOP_GRACE_MS)))
      await destroyLab(this.tag, { log: this.log })
      this.log?.info({ tag: this.tag }, 'NAT lab removed')
    })()
    return this.tearingDown
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.teardown()
  }
}

async function namespaceNames(): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list'])
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '')
}

/** Ends every process inside these namespaces, by pid: SIGTERM, then SIGKILL for those still there. */
async function endProcessesIn(namespaces: string[]): Promise<void> {
  const pidsOf = async () => {
    const pids: number[] = []
    for (const ns of namespaces) {
      const out = await exec('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }))
      for (const p of out.stdout.split(/\s+/)) if (/^\d+$/.test(p)) pids.push(Number(p))
    }
    return pids
  }
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig)
      } catch {
        // already gone
      }
    }
  }
  let pids = await pidsOf()
  if (pids.length === 0) return
  signal(pids, 'SIGTERM')
  for (let i = 0; i < STOP_GRACE_MS / 100 && pids.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100))
    pids = await pidsOf()
  }
  signal(pids, 'SIGKILL')
  for (let i = 0; i < 20 && (await pidsOf()).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
}

