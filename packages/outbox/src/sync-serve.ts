/**
 * The answering side of the history sync: `outbox.syncServe` (called by transport once the other device's handshake
 * proved it is a device of this account) and `outbox.historySummary`. A body kept sealed to this device is opened
 * before it goes: the channel is Noise-encrypted and only ever reaches another device of this account, which seals
 * it to itself again (device-sync.ts). The account's contact and block registers are identity's (`account-state`), declined requests the outbox's.
 */
import type { ActorContext } from '@baran/actor'
import { BusError, identityAccountState, outboxHistorySummary, outboxSyncServe } from '@baran/bus'
import type { IdentityView } from './identity-view.ts'
import type { HistoryEntry } from './lib/history-entry.ts'
import type { HistoryStore } from './lib/history.ts'
import type { ContactRequests } from './lib/requests.ts'
import { EMPTY_DIGEST } from './lib/history-sync.ts'
import { answerSync } from './lib/sync-wire.ts'

export function serveSync(
  ctx: ActorContext<unknown>,
  stores: () => { history: HistoryStore; requests: ContactRequests },
  identity: IdentityView,
  openAtRest: (sealed: string) => Promise<string>,
): void {
  const open = async (e: HistoryEntry): Promise<HistoryEntry> => {
    if (e.sealed === undefined) return e
    try {
      const { sealed: _s, ...rest } = e
      return { ...rest, body: await openAtRest(e.sealed) }
    } catch (err) {
      // Not readable here either (restored from another device, damaged): it goes as it is kept.
      ctx.log.warn({ id: e.id, err: (err as Error).message }, 'history sync: a sent message does not open; it goes sealed')
      return e
    }
  }
  ctx.serve(outboxSyncServe, async ({ deviceId, request }) => {
    const { history: h, requests } = stores()
    const me = await identity.get()
    // Transport checked the chain and the revocations it knows; identity's list is checked here too.
    if (deviceId === me.deviceId || me.revoked.includes(deviceId)) {
      throw new BusError('not_own_device', `device ${deviceId} is not another device of this account (or it is revoked)`)
    }
    return answerSync(h, request, {
      open,
      // Contacts and blocks are identity's: asked of it, part by part.
      accountState: async ({ kind, after }) => ({ op: 'account-state', kind, ...(await ctx.bus.request(identityAccountState, { kind, ...(after ? { after } : {}) })) }),
      declines: (after, max) => requests.declinesAfter(after, max),
    })
  })
  ctx.serve(outboxHistorySummary, async ({ peer }) => {
    const c = (await stores().history.summaries()).find((s) => s.peer === peer)
    return c ?? { peer, count: 0, digest: EMPTY_DIGEST }
  })
}
