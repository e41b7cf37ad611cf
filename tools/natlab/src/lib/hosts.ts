/**
 * Transport host processes inside a lab: spawns a script (packages/transport/scripts/host.ts, or
 * the lab peer) in a node's namespace on this process's Node (process.execPath), collects the
 * JSON lines it prints, and keeps its stderr (libp2p debug logs when `debug` is set).
 */
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { stopChild } from '@baran/launch'
import { type LabNode, STOP_GRACE_MS } from './constants.ts'
import { HostProcessError, LabTimeoutError } from './errors.ts'
import type { NatLab } from './lab.ts'

/** packages/transport's command-line host (prints JSON lines; made for this lab). */
export const TRANSPORT_HOST_SCRIPT = fileURLToPath(new URL('../../../../packages/transport/scripts/host.ts', import.meta.url))

/** `baran relay` as its own process (apps/relay/src/main.ts): circuit relay, DHT bootstrap, STUN. */
export const RELAY_SCRIPT = fileURLToPath(new URL('../../../../apps/relay/src/main.ts', import.meta.url))

/** The lab peer: a host that stays up and takes commands on stdin (src/peer.ts). */
export const LAB_PEER_SCRIPT = fileURLToPath(new URL('../peer.ts', import.meta.url))

/** A lab DHT node: a discovery node that stays up and takes commands on stdin (src/dht-peer.ts). */
export const DHT_PEER_SCRIPT = fileURLToPath(new URL('../dht-peer.ts', import.meta.url))

/** Keep at most this much of a host's stderr (debug logs can be long). */
const MAX_LOG_CHARS = 4 * 1024 * 1024

/** One JSON line a host printed. */
export interface HostEvent {
  event: string
  [key: string]: unknown
}

/** The addresses a host announced in a `ready` or `addresses` line; undefined for any other line. */
export function announcedIn(e: HostEvent): string[] | undefined {
  return (e.event === 'ready' || e.event === 'addresses') && Array.isArray(e.addrs) ? (e.addrs as string[]) : undefined
}

export interface LabHostOptions {
  /** libp2p debug namespaces for the host's stderr, e.g. 'libp2p:dcutr*'. */
  debug?: string
  /** @default 15000 */
  readyTimeoutMs?: number
  /** Turns a JSON line without an `event` field into one (e.g. the relay's `--json` line). */
  toEvent?: (line: Record<string, unknown>) => HostEvent | undefined
}

export interface LabHost {
  readonly node: LabNode
  readonly process: ChildProcess
  /** Its PeerId, from the "ready" line. */
  readonly peerId: string
  /** Every JSON line it printed so far. */
  readonly events: readonly HostEvent[]
  /** Its stderr so far (the last 4 MiB). */
  readonly stderr: string
  /** The first event from index `from` on that matches, waiting for it up to `timeoutMs`. */
  waitFor(match: (e: HostEvent) => boolean, opts?: { timeoutMs?: number; from?: number }): Promise<HostEvent>
  /** Writes one command line to its stdin (the lab peer). */
  command(cmd: object): void
  /** Resolves with the exit code once it has exited. */
  readonly exited: Promise<number | null>
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>
}

/** Spawns `script args` in the node's namespace and resolves once it printed "ready". */
export async function startLabHost(lab: NatLab, node: LabNode, script: string, args: string[], opts: LabHostOptions = {}): Promise<LabHost> {
  const env: NodeJS.ProcessEnv = { ...process.env, DEBUG_COLORS: '0' }
  if (opts.debug !== undefined) env.DEBUG = opts.debug
  else delete env.DEBUG
  const child = lab.run(node, process.execPath, ['--conditions=@baran/source', script, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  const host = new ProcessHost(node, child, opts.toEvent)
  const ready = await host.waitFor((e) => e.event === 'ready', { timeoutMs: opts.readyTimeoutMs ?? 15_000 }).catch(async (err) => {
    await host.stop()
    throw err
  })
  host.peerId = String(ready.peerId)
  return host
}

class ProcessHost implements LabHost {
  readonly node: LabNode
  readonly process: ChildProcess
  peerId = ''
  readonly events: HostEvent[] = []
  stderr = ''
  readonly exited: Promise<number | null>
  private readonly waiters = new Set<() => void>()
  private buffered = ''
  private exitCode: number | null | undefined

  private readonly toEvent: LabHostOptions['toEvent']

  constructor(node: LabNode, child: ChildProcess, toEvent?: LabHostOptions['toEvent']) {
    this.toEvent = toEvent
    this.node = node
    this.process = child
    child.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString()))
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString()
      if (this.stderr.length > MAX_LOG_CHARS) this.stderr = this.stderr.slice(-MAX_LOG_CHARS)
    })
    child.stdin?.on('error', () => {}) // a host that died closes its stdin; the exit tells why
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        this.exitCode = code
        this.wake()
        resolve(code)
      }
      child.once('exit', (code) => done(code))
      child.once('error', () => done(null))
    })
  }

  private onStdout(text: string): void {
    this.buffered += text
    const lines = this.buffered.split('\n')
    this.buffered = lines.pop() ?? ''
    for (const line of lines) {
      try {
        const v = JSON.parse(line) as unknown
        if (v === null || typeof v !== 'object') continue
        if (typeof (v as HostEvent).event === 'string') this.events.push(v as HostEvent)
        else {
          const e = this.toEvent?.(v as Record<string, unknown>)
          if (e !== undefined) this.events.push(e)
        }
      } catch {
        // not one of its JSON lines
      }
    }
    this.wake()
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }

  waitFor(match: (e: HostEvent) => boolean, opts: { timeoutMs?: number; from?: number } = {}): Promise<HostEvent> {
    const timeoutMs = opts.timeoutMs ?? 10_000
    return new Promise((resolve, reject) => {
      let next = opts.from ?? 0
      const check = () => {
        for (; next < this.events.length; next++) {
          const e = this.events[next]!
          if (match(e)) return finish(() => resolve(e))
        }
        if (this.exitCode !== undefined) {
          const tail = this.stderr.split('\n').slice(-15).join('\n')
          finish(() => reject(new HostProcessError(`host in ${this.node} exited (code ${this.exitCode}) before the awaited event; stderr tail:\n${tail}`)))
        }
      }
      const timer = setTimeout(() => finish(() => reject(new LabTimeoutError(`host in ${this.node}: no awaited event within ${timeoutMs} ms`))), timeoutMs)
      const finish = (settle: () => void) => {
        clearTimeout(timer)
        this.waiters.delete(check)
        settle()
      }
      this.waiters.add(check)
      check()
    })
  }

  command(cmd: object): void {
    this.process.stdin?.write(`${JSON.stringify(cmd)}\n`)
  }

  stop(): Promise<void> {
    return stopChild(this.process, STOP_GRACE_MS)
  }
}

/** The lab's relay: `baran relay` in the relay namespace on `port` (STUN on UDP 3478), data in `dataDir`. */
export async function startLabRelay(lab: NatLab, dataDir: string, port = 4001): Promise<LabHost & { addr: string; stun: string }> {
  const args = ['--listen', `/ip4/${lab.addresses.relay}/tcp/${port}`, '--data-dir', dataDir, '--json']
  const host = await startLabHost(lab, 'relay', RELAY_SCRIPT, args, {
    readyTimeoutMs: 60_000,
    toEvent: (v) => {
      const ids = v.peerIds as { relay?: string } | undefined
      return ids?.relay === undefined ? undefined : { ...v, event: 'ready', peerId: ids.relay }
    },
  })
  const ready = host.events.find((e) => e.event === 'ready')!
  return Object.assign(host, { addr: `/ip4/${lab.addresses.relay}/tcp/${port}/p2p/${host.peerId}`, stun: String(ready.stun) })
}
