import type { ActorContext } from '@baran/actor'
import { identityAccountState, identityBlock, identityBlocks, identityBlocksChanged, identityMergeAccountState, identityUnblock } from '@baran/bus'
import type { AccountInfo, SealedKeyring } from './lib/store.ts'

/**
 * Serves the block list (identity.blocks / block / unblock) and announces each change with the whole list, so the
 * transport and the outbox never act on a stale one; and the contact and block registers the account's devices sync
 * (identity.accountState / mergeAccountState, called by the outbox's device sync: docs/history.md).
 */
export function serveBlocks(ctx: ActorContext<unknown>, store: SealedKeyring, account: () => AccountInfo): void {
  const announce = (accountId: string) => {
    ctx.publish(identityBlocksChanged, { accountId, blocked: store.blocks().map((b) => b.accountId), at: Date.now() })
  }
  ctx.serve(identityBlocks, () => ({ blocks: store.hasAccount() ? store.blocks() : [] }))
  ctx.serve(identityBlock, async ({ accountId }) => {
    const info = account()
    const before = store.blocks().length
    const entry = await store.block(accountId)
    if (store.blocks().length !== before) {
      ctx.log.info({ blocked: accountId }, 'account blocked')
      announce(info.accountId)
    }
    return entry
  })
  ctx.serve(identityUnblock, async ({ accountId }) => {
    const info = account()
    const unblocked = await store.unblock(accountId)
    if (unblocked) {
      ctx.log.info({ unblocked: accountId }, 'block lifted')
      announce(info.accountId)
    }
    return { unblocked }
  })
  ctx.serve(identityAccountState, ({ kind, after }) => store.accountState(kind, after))
  ctx.serve(identityMergeAccountState, async ({ kind, registers }) => {
    const info = account()
    const before = kind === 'blocks' ? blockedKey(store) : ''
    const r = await store.mergeAccountState(kind, registers)
    if (r.changed > 0) ctx.log.info({ kind, changed: r.changed, skipped: r.skipped }, 'account state merged from another device')
    if (kind === 'blocks' && blockedKey(store) !== before) announce(info.accountId)
    return r
  })
}

/** The blocked account IDs, to tell whether a merge changed the list (a newer write may keep it as it was). */
function blockedKey(store: SealedKeyring): string {
  return store
    .blocks()
    .map((b) => b.accountId)
    .sort()
    .join(',')
}
