import type { ActorContext } from '@baran/actor'
import { identityBlocks, identityContacts, outboxDeclineRequest, outboxHistory, outboxRequests } from '@baran/bus'
import type { DeliveryChange } from './lib/engine.ts'
import type { HistoryMessage } from './lib/history-entry.ts'
import type { HistoryStore } from './lib/history.ts'
import type { ContactRequests } from './lib/requests.ts'
import type { ReadReceiptEvent, ReceivedMessage } from './lib/inbox.ts'

/**
 * How the outbox actor keeps the history up to date beside the outbox and inbox: the bus verb, and the updates
 * that follow deliveries, receipts and reads. Updates after the fact (a delivery, a receipt) are best effort:
 * a failure is logged, and the outbox record keeps the authoritative per-device state.
 */
export function historyUpdates(history: () => HistoryStore | undefined, log: ActorContext<unknown>['log']) {
  const warn = (what: string) => (e: unknown) => log.warn({ err: (e as Error).message }, `could not record ${what} in the history`)
  return {
    delivery(c: DeliveryChange): void {
      if (c.kind !== 'message' || c.sync || !c.deviceId) return
      if (c.state !== 'delivered' && c.state !== 'expired' && c.state !== 'rejected') return
      history()?.delivery(c.to, c.id, c.deviceId, c.state, c.at).catch(warn('a delivery'))
    },
    readReceipt(e: ReadReceiptEvent): void {
      history()?.readBy(e.from, e.id, e.deviceId, e.at).catch(warn('a read receipt'))
    },
    /** Messages this account just marked read (awaited: the reply says they are read). */
    async markedRead(read: ReceivedMessage[], self: string, at = Date.now()): Promise<void> {
      const h = history()
      if (!h) return
      await Promise.all(read.map((m) => h.markRead(m.from === self ? m.to : m.from, m.id, at)))
    },
  }
}

/** Serves `outbox.history`: one conversation, in message-ID order. */
export function serveHistory(
  ctx: ActorContext<unknown>,
  history: () => HistoryStore,
  resolve: (peer: string) => Promise<{ accountId: string }>,
  openAtRest: (sealed: string) => Promise<string>,
): void {
  ctx.serve(outboxHistory, async ({ peer, before, after, limit }) => {
    const h = history()
    const { accountId } = await resolve(peer)
    const page = await h.page(accountId, { ...(before ? { before } : {}), ...(after ? { after } : {}), ...(limit ? { limit } : {}) })
    return { peer: accountId, ...page, messages: await openSealed(page.messages, openAtRest, ctx.log) }
  })
}

/** How many sealed bodies of one page are opened at once (each is an identity.open). */
const OPEN_CONCURRENCY = 8

/**
 * Messages sent from here keep their body sealed to this device: opened for the reply. One that does not open (a
 * store restored on another device, a damaged entry) is shown with an empty body and the reason, not as an error.
 */
async function openSealed(messages: HistoryMessage[], openAtRest: (sealed: string) => Promise<string>, log: ActorContext<unknown>['log']) {
  const out: Array<Omit<HistoryMessage, 'sealed'> & { unreadable?: string }> = new Array(messages.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < messages.length; i = next++) {
      const { sealed, ...m } = messages[i]!
      if (sealed === undefined) {
        out[i] = m
        continue
      }
      try {
        out[i] = { ...m, body: await openAtRest(sealed) }
      } catch (e) {
        const reason = (e as { code?: string }).code ?? (e as Error).message
        log.warn({ id: m.id, reason }, 'a sent message in the history does not open')
        out[i] = { ...m, body: '', unreadable: reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, messages.length) }, worker))
  return out
}

/** Serves `outbox.requests` and `outbox.declineRequest`; who is a contact or blocked is asked of identity each time. */
export function serveRequests(ctx: ActorContext<unknown>, requests: () => ContactRequests, self: () => Promise<string>): void {
  ctx.serve(outboxRequests, async (req) => {
    const r = requests()
    const [me, { contacts }, { blocks }] = await Promise.all([self(), ctx.bus.request(identityContacts, {}), ctx.bus.request(identityBlocks, {})])
    const known = { self: me, contacts: new Set(contacts.map((c) => c.accountId)), blocked: new Set(blocks.map((b) => b.accountId)) }
    return { requests: await r.list(known, req?.limit ?? 100) }
  })
  ctx.serve(outboxDeclineRequest, async ({ peer }) => {
    const r = requests()
    await self()
    return { declined: await r.decline(peer) }
  })
}
