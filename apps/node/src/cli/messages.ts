/**
 * Message commands, talking to a running node's outbox actor: `send`, `inbox`, `watch` (live until Ctrl-C) and
 * `outbox` (what is not delivered yet, per device).
 */
import {
  type Bus,
  BusErrorCode,
  errorCodeOf,
  type HistoryMessage,
  type InboxMessage,
  isBusError,
  type Outgoing,
  outboxDelivery,
  outboxHistory,
  outboxInbox,
  outboxMarkRead,
  outboxPending,
  outboxReceipt,
  outboxReceived,
  outboxSend,
} from '@baran/bus'
import { randomUUID } from 'node:crypto'
import { connectCli, type NodeSelection, withCliBus } from './connect.ts'
import { conversationNameOf } from './conversations.ts'
import { CliError, Exit, formatDuration, paint, printJson } from './output.ts'

type Opts = NodeSelection & { json?: boolean }

const withBus = <T>(opts: NodeSelection, fn: (bus: Bus) => Promise<T>): Promise<T> => withCliBus(opts, fn, explain)

/** Turns the outbox actor's error codes into what the user should know and do. */
function explain(e: unknown): unknown {
  if (!isBusError(e)) return e
  const make = (message: string, exitCode: number, hint?: string) => new CliError(message, { exitCode, cause: e, ...(hint ? { hint } : {}) })
  switch (errorCodeOf(e, outboxSend, outboxPending, outboxInbox, outboxMarkRead, outboxHistory)) {
    case 'no_responder':
      return make('the outbox actor is not running on this node', Exit.Unavailable, 'see `baran status`; it runs when `actors.outbox` is configured')
    case 'unavailable':
      return make(`the outbox is unavailable: ${e.message}`, Exit.Unavailable, 'JetStream may be restarting: try again, or see `baran status`')
    case 'naming_unavailable':
      return make(e.message, Exit.Unavailable, 'see `baran status` (naming), or send to the 40-hex account ID')
    case 'no_account':
      return make('this node holds no account yet', Exit.Error, 'create one with `baran account create` (or import one)')
    case 'unknown_recipient':
    case 'not_found':
      return make(e.message, Exit.Error, 'check the name with `baran lookup <name>`, or give the 40-hex account ID')
    case 'body_too_large':
    case 'payload_too_large':
      return make(`the message is too large: ${e.message}`, Exit.Usage)
    case 'invalid_request':
      return make(`invalid request: ${e.message}`, Exit.Usage)
    default:
      return make(`${e.code}: ${e.message}`, Exit.Error)
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
/** `90s`, `12h`, `7d`, or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim())
  if (!m) throw new CliError(`not a duration: ${text}`, { exitCode: Exit.Usage, hint: 'use e.g. 90s, 12h, 7d, or milliseconds' })
  return Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1)
}

const short = (id: string) => `${id.slice(0, 8)}…`
/** Like formatDuration, with days for message TTLs. */
const span = (ms: number) => (ms >= 2 * 86_400_000 ? `${Math.floor(ms / 86_400_000)}d` : formatDuration(ms))
const time = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19)

/** A send that timed out is asked again (same idempotency key) this many times in all. */
const SEND_ATTEMPTS = 3

/** `baran send <name|id> <text>`: prints the message ID once it is persisted (delivery goes on in the node). */
export async function sendCommand(to: string, text: string, opts: Opts & { ttl?: string }): Promise<number> {
  const ttlMs = opts.ttl === undefined ? undefined : parseDuration(opts.ttl)
  if (text.length === 0) throw new CliError('nothing to send', { exitCode: Exit.Usage })
  // One key per invocation: a retry after a timeout (the first attempt may have been stored) stores nothing new.
  const idempotencyKey = randomUUID()
  return withBus(opts, async (bus) => {
    const request = { to, body: text, idempotencyKey, ...(ttlMs === undefined ? {} : { ttlMs }) }
    let sent: Outgoing | undefined
    for (let attempt = 1; !sent; attempt++) {
      try {
        sent = await bus.request(outboxSend, request)
      } catch (e) {
        if (errorCodeOf(e, outboxSend) !== BusErrorCode.Timeout || attempt >= SEND_ATTEMPTS) throw e
        process.stderr.write(`${paint('yellow', 'no answer yet')}: trying again with the same idempotency key (attempt ${attempt + 1} of ${SEND_ATTEMPTS})\n`)
      }
    }
    if (opts.json) printJson(sent)
    else process.stdout.write(`${sent.id}\n`)
    return Exit.Ok
  })
}

/** `baran inbox`: received messages in arrival order (every page). */
export async function inboxCommand(opts: Opts & { unread?: boolean; markRead?: boolean }): Promise<number> {
  return withBus(opts, async (bus) => {
    const all: InboxMessage[] = []
    let after: string | undefined
    for (let page = 0; page < 10_000; page++) {
      const r = await bus.request(outboxInbox, { limit: 1000, ...(after ? { after } : {}), ...(opts.unread ? { unreadOnly: true } : {}) })
      all.push(...r.messages)
      if (!r.next) break
      after = r.next
    }
    if (opts.markRead && all.length > 0) {
      const unread = all.filter((m) => !m.read).map((m) => m.id)
      for (let i = 0; i < unread.length; i += 1000) await bus.request(outboxMarkRead, { ids: unread.slice(i, i + 1000) })
    }
    if (opts.json) {
      printJson(all.map((m) => ({ id: m.id, from: m.from, body: m.body, receivedAt: m.receivedAt })))
      return Exit.Ok
    }
    if (all.length === 0) process.stdout.write(paint('gray', opts.unread ? 'no unread messages\n' : 'no messages yet\n'))
    for (const m of all) {
      const who = m.sync ? `you → ${short(m.to)}` : short(m.from)
      process.stdout.write(`${m.read ? ' ' : paint('cyan', '•')} ${paint('gray', time(m.receivedAt))}  ${paint('bold', who)}  ${m.body}\n`)
    }
    return Exit.Ok
  })
}

/** Pages of `baran history` asked for at most (1,000 messages each). */
const HISTORY_PAGES = 10_000

/** `baran history <peer>`: one conversation, both directions, in message-ID order (every page), with delivery and read state. */
export async function historyCommand(peer: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const all: HistoryMessage[] = []
    let after: string | undefined
    let reply: Awaited<ReturnType<typeof bus.request<typeof outboxHistory>>> | undefined
    for (let page = 0; page < HISTORY_PAGES; page++) {
      reply = await bus.request(outboxHistory, { peer, limit: 1000, ...(after ? { after } : {}) })
      all.push(...reply.messages)
      const last = reply.messages.at(-1)
      if (!reply.hasAfter || !last) break
      after = last.id
    }
    const gaps = reply?.gaps ?? []
    const name = reply ? await conversationNameOf(bus, reply.peer) : undefined
    if (opts.json) {
      printJson({ peer: reply?.peer, ...(name === undefined ? {} : { name }), messages: all, gaps })
      return Exit.Ok
    }
    if (name !== undefined && reply) process.stdout.write(`${paint('bold', name)}  ${paint('gray', reply.peer)}
`)
    if (all.length === 0) process.stdout.write(paint('gray', 'no messages with this account yet\n'))
    for (const m of all) {
      const who = m.direction === 'out' ? paint('bold', 'you') : paint('bold', short(m.from))
      const color = m.state === 'read' || m.state === 'delivered' ? 'green' : m.state === 'expired' || m.state === 'rejected' ? 'red' : m.state === 'queued' ? 'yellow' : 'gray'
      process.stdout.write(`${paint('gray', time(m.sentAt))}  ${who}  ${m.body}  ${paint(color, m.state)}\n`)
    }
    if (gaps.length > 0) process.stdout.write(paint('yellow', `${gaps.length} message(s) referenced but not on this device: ${gaps.map(short).join(', ')}\n`))
    return Exit.Ok
  })
}

/** Message IDs `baran watch` remembers to show each received message once. */
const SHOWN_IDS = 10_000

/** `baran watch`: each received message, delivery state change and receipt, live until Ctrl-C. */
export async function watchCommand(opts: Opts): Promise<number> {
  const { bus, info } = await connectCli(opts)
  const line = (event: string, body: object, text: string) => {
    process.stdout.write(opts.json ? `${JSON.stringify({ event, ...body })}\n` : `${paint('gray', time(Date.now()))}  ${text}\n`)
  }
  try {
    // `received` is at least once (a node that restarts may announce a message again): each is shown once.
    const shown = new Set<string>()
    await bus.subscribe(outboxReceived, (m) => {
      if (shown.has(m.id)) return
      if (shown.size >= SHOWN_IDS) shown.delete(shown.values().next().value as string)
      shown.add(m.id)
      line('received', m, `${paint('cyan', '←')} ${paint('bold', m.sync ? `you → ${short(m.to)}` : short(m.from))}  ${m.body}`)
    })
    await bus.subscribe(outboxDelivery, (d) => {
      const color = d.state === 'delivered' ? 'green' : d.state === 'queued' || d.state === 'sending' ? 'yellow' : 'red'
      const where = d.deviceId ? `${short(d.to)}/${short(d.deviceId)}${d.sync ? ' (sync)' : ''}` : short(d.to)
      line('delivery', d, `→ ${d.id} ${where} ${paint(color, d.state)}${d.attempts ? ` after ${d.attempts} failed` : ''}${d.error ? paint('gray', ` (${d.error})`) : ''}`)
    })
    await bus.subscribe(outboxReceipt, (r) => line('receipt', r, `${paint('green', r.kind === 'read' ? '✓✓' : '✓')} ${r.id} ${r.kind} by ${short(r.from)}/${short(r.deviceId)}`))
    if (!opts.json) process.stderr.write(paint('gray', `watching messages on node ${info.node} (Ctrl-C stops)\n`))
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
      void bus.closed().then(() => resolve())
    })
    return Exit.Ok
  } finally {
    await bus.close()
  }
}

/** `baran outbox`: messages not yet delivered to every device, with each device's state (`--all`: also finished). */
export async function outboxCommand(opts: Opts & { all?: boolean }): Promise<number> {
  return withBus(opts, async (bus) => {
    const r = await bus.request(outboxPending, { limit: 10_000, ...(opts.all ? { all: true } : {}) })
    if (opts.json) {
      printJson(r)
      return Exit.Ok
    }
    if (r.messages.length === 0) process.stdout.write(paint('gray', opts.all ? 'the outbox is empty\n' : 'nothing pending\n'))
    for (const m of r.messages) printOutgoing(m)
    if (r.total > r.messages.length) process.stdout.write(paint('gray', `… and ${r.total - r.messages.length} more\n`))
    return Exit.Ok
  })
}

function printOutgoing(m: Outgoing): void {
  const now = Date.now()
  const to = m.toName ? `${m.toName} (${short(m.to)})` : m.to
  const what = m.kind === 'receipt' ? paint('gray', `read receipt for ${m.ref}`) : JSON.stringify(m.preview ?? '')
  const expires = m.expiredAt !== undefined ? paint('red', 'expired') : m.expiresAt > now ? `expires in ${span(m.expiresAt - now)}` : paint('red', 'expiring')
  process.stdout.write(`${paint('bold', m.id)}  → ${to}  ${what}\n  ${paint('gray', `sent ${span(now - m.createdAt)} ago, ${expires}`)}\n`)
  if (m.devicesResolved === false && m.expiredAt === undefined) process.stdout.write(`  ${paint('yellow', "looking for the recipient's devices…")}\n`)
  for (const d of m.devices) {
    const color = d.state === 'delivered' ? 'green' : d.state === 'queued' || d.state === 'sending' ? 'yellow' : 'red'
    const extra = [
      d.sync ? 'sync copy' : '',
      d.attempts ? `${d.attempts} failed` : '',
      d.state === 'queued' && d.nextAttemptAt ? `next in ${span(Math.max(0, d.nextAttemptAt - now))}` : '',
      d.readAt ? 'read' : '',
      d.lastError && d.state !== 'delivered' ? `last: ${d.lastError}` : '',
    ].filter(Boolean)
    process.stdout.write(`  ${short(d.deviceId)}  ${paint(color, d.state.padEnd(9))}${extra.length ? paint('gray', `  ${extra.join(', ')}`) : ''}\n`)
  }
}
