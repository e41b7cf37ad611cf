import { Bus, canRead, decodeJson, eventContracts, eventSubject } from '@baran/bus'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NODE_POLL_MS, RELAYED_EVENTS, UI_BUS_USER } from '../lib/constants.ts'

/** What the page hears: bus events, and the gateway's own view of the node (up, down, restarted). */
export type LinkMessage =
  | { type: 'event'; node: string; actor: string; event: string; body: unknown }
  | { type: 'link'; up: boolean; node: string | null; startedAt: number | null; restarted: boolean }

interface NodeFile {
  node: string
  pid: number
  busUrl: string
  startedAt: number
}

export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

const relayed = new Set<string>(RELAYED_EVENTS)

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Keeps one bus connection (as the `ui` user) to the node of a data dir. It follows node.json, so the gateway
 * survives the node's restart (a new bus port): when the node comes back it reconnects and says so.
 */
export class NodeLink {
  readonly dataDir: string
  #bus: Bus | undefined
  #current: NodeFile | undefined
  #listeners = new Set<(m: LinkMessage) => void>()
  #timer: NodeJS.Timeout | undefined
  #busy = false
  #closed = false
  #log: Logger | undefined
  #everUp = false

  constructor(dataDir: string, log?: Logger) {
    this.dataDir = dataDir
    this.#log = log
  }

  get bus(): Bus | undefined {
    return this.#bus?.connected ? this.#bus : undefined
  }

  get status(): Extract<LinkMessage, { type: 'link' }> {
    return { type: 'link', up: this.bus !== undefined, node: this.#current?.node ?? null, startedAt: this.#current?.startedAt ?? null, restarted: false }
  }

  on(listener: (m: LinkMessage) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async start(): Promise<void> {
    await this.#poll()
    this.#timer = setInterval(() => void this.#poll(), NODE_POLL_MS)
    this.#timer.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#drop()
  }

  #emit(m: LinkMessage): void {
    for (const l of this.#listeners) l(m)
  }

  async #readNode(): Promise<NodeFile | undefined> {
    try {
      const n = JSON.parse(await readFile(join(this.dataDir, 'node.json'), 'utf8')) as NodeFile
      return typeof n.busUrl === 'string' && typeof n.pid === 'number' && alive(n.pid) ? n : undefined
    } catch {
      return undefined
    }
  }

  async #drop(): Promise<void> {
    const bus = this.#bus
    this.#bus = undefined
    this.#current = undefined
    if (bus) await bus.close().catch(() => undefined)
  }

  /** One step: notice a stopped, started or restarted node, and (re)connect. Never overlaps itself. */
  async #poll(): Promise<void> {
    if (this.#busy || this.#closed) return
    this.#busy = true
    try {
      const n = await this.#readNode()
      const cur = this.#current
      if (cur && (!n || n.startedAt !== cur.startedAt || n.busUrl !== cur.busUrl)) {
        await this.#drop()
        this.#emit({ type: 'link', up: false, node: cur.node, startedAt: null, restarted: false })
      }
      if (n && !this.#current) await this.#connect(n)
    } catch (e) {
      this.#log?.warn({ err: e }, 'ui gateway: cannot reach the node yet')
    } finally {
      this.#busy = false
    }
  }

  async #connect(n: NodeFile): Promise<void> {
    const creds = JSON.parse(await readFile(join(this.dataDir, 'bus', 'creds', `${UI_BUS_USER}.json`), 'utf8')) as { user: string; pass: string }
    const bus = await Bus.connect({ servers: n.busUrl, node: n.node, user: creds.user, pass: creds.pass, name: `baran-${n.node}-ui` })
    if (this.#closed) {
      await bus.close()
      return
    }
    const onEvent = (subject: string, data: Uint8Array) => {
      const [, node = '', actor = '', , event = ''] = subject.split('.')
      let body: unknown
      try {
        body = decodeJson(data)
      } catch {
        return
      }
      this.#emit({ type: 'event', node, actor, event, body })
    }
    // One subscription per relayed event the `ui` user may read: the bus refuses a wildcard over every event.
    for (const c of eventContracts.filter((e) => relayed.has(e.event) && canRead(e, UI_BUS_USER))) {
      await bus.subscribeRaw(eventSubject(n.node, c.actor, c.event), onEvent)
    }
    bus.onStatus((s) => {
      if (s === 'disconnected' || s === 'reconnected') this.#emit({ ...this.status, up: s === 'reconnected' })
    })
    this.#bus = bus
    this.#current = n
    const restarted = this.#everUp
    this.#everUp = true
    this.#log?.info({ node: n.node, bus: n.busUrl }, 'ui gateway: connected to the node')
    this.#emit({ type: 'link', up: true, node: n.node, startedAt: n.startedAt, restarted })
  }
}
