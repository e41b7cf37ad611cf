import { SyncAnswerSchema, type SyncRequest, SyncRequestSchema } from '@baran/bus'
import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { pullAccountState } from '../src/lib/account-pull.ts'
import { HistoryStore } from '../src/lib/history.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import { ContactRequests } from '../src/lib/requests.ts'
import { answerSync } from '../src/lib/sync-wire.ts'
import { ALICE, BOB, BOB_PHONE, CAROL, jetstream } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)
const known = { self: ALICE, contacts: new Set<string>(), blocked: new Set<string>() }

/** Two devices of Alice's account, each with its own history bucket (real JetStream), holding the same messages. */
async function devices() {
  const js = await jetstream(cleanup)
  const make = async () => {
    const kv = await js.bucket('history')
    const history = new HistoryStore({ kv, now: () => NOW })
    return { kv, history, requests: new ContactRequests({ history, kv }) }
  }
  const phone = await make()
  const laptop = await make()
  const gen = createIdGenerator({ now: () => NOW })
  const receive = async (from: string) => {
    const m = { id: gen(), from, fromDevice: BOB_PHONE, to: ALICE, body: 'hello', sentAt: NOW, receivedAt: NOW }
    for (const d of [phone, laptop]) await d.history.recordReceived(m, ALICE)
    return m.id
  }
  return { phone, laptop, receive }
}

/** The phone's answers, through the wire schemas both ways, as transport carries them. */
function asking(served: ContactRequests, history: HistoryStore, asked: SyncRequest[] = []) {
  return async (req: SyncRequest) => {
    asked.push(SyncRequestSchema.parse(req))
    const a = await answerSync(history, req, {
      open: async (e) => e,
      // this test is about declines: the phone holds no contact or block registers (identity's, tested there)
      accountState: async ({ kind }) => ({ op: 'account-state', kind, registers: [], more: false }),
      declines: (after, max) => served.declinesAfter(after, Math.min(max, 1)),
    })
    return SyncAnswerSchema.parse(a)
  }
}

describe('declined contact requests follow the account (pullAccountState)', () => {
  it('a decline on one device hides the request on the other; the higher upTo wins, merging again changes nothing', async () => {
    const { phone, laptop, receive } = await devices()
    await receive(BOB)
    await receive(CAROL)
    expect((await laptop.requests.list(known)).map((r) => r.accountId).sort()).toEqual([BOB, CAROL].sort())
    expect(await phone.requests.decline(BOB)).toBe(true)
    expect(await phone.requests.decline(CAROL)).toBe(true)

    const asked: SyncRequest[] = []
    const merge = { registers: async () => ({ changed: 0 }), declines: (list: Array<{ peer: string; upTo: string }>) => laptop.requests.mergeDeclines(list) }
    const r = await pullAccountState(asking(phone.requests, phone.history, asked), merge)
    expect(r).toEqual({ fetched: 2, changed: 2 })
    // one decline per part here: the second part was asked after the first peer
    expect(asked.filter((q) => q.op === 'declines')).toEqual([{ op: 'declines' }, { op: 'declines', after: [BOB, CAROL].sort()[0] }])
    // every list's first part at once, before any answer came; a later part once its list's previous one is in
    expect(asked.map((q) => (q.op === 'account-state' ? q.kind : q.op))).toEqual(['blocks', 'contacts', 'names', 'declines', 'declines'])
    expect(await laptop.requests.list(known)).toEqual([])
    // survives a restart (kept in the laptop's bucket)
    expect(await new ContactRequests({ history: laptop.history, kv: laptop.kv }).list(known)).toEqual([])
    expect(await pullAccountState(asking(phone.requests, phone.history), merge)).toEqual({ fetched: 2, changed: 0 })

    // a newer message asks again on both; declined on the laptop, the phone takes the newer decline, not the reverse
    const later = await receive(BOB)
    expect(await laptop.requests.decline(BOB)).toBe(true)
    const back = { registers: async () => ({ changed: 0 }), declines: (list: Array<{ peer: string; upTo: string }>) => phone.requests.mergeDeclines(list) }
    expect((await pullAccountState(asking(laptop.requests, laptop.history), back)).changed).toBe(1)
    expect(await phone.requests.list(known)).toEqual([])
    expect((await pullAccountState(asking(phone.requests, phone.history), merge)).changed).toBe(0)
    expect((await laptop.requests.declinesAfter(undefined, 10)).declines.find((d) => d.peer === BOB)?.upTo).toBe(later)
  })

  it('merges blocks first and conversation names last, whatever order the answers come in; a refused names list fails after the rest is merged', async () => {
    const merged: string[] = []
    const merge = {
      registers: async (kind: string) => {
        merged.push(kind)
        return { changed: 1 }
      },
      declines: async () => {
        merged.push('declines')
        return 1
      },
    }
    const reg = (accountId: string) => ({ accountId, value: { since: NOW }, at: NOW, device: BOB_PHONE })
    // answers arrive in the reverse order of the asks (names first, blocks last)
    const delays: Record<string, number> = { blocks: 60, contacts: 40, declines: 20, names: 0 }
    const reversed = async (req: SyncRequest) => {
      const kind = req.op === 'account-state' ? req.kind : req.op
      await new Promise((r) => setTimeout(r, delays[kind]))
      if (req.op === 'declines') return { op: 'declines' as const, declines: [{ peer: BOB, upTo: '0'.repeat(26) }], more: false }
      if (req.op !== 'account-state') throw new Error('unexpected')
      return SyncAnswerSchema.parse({ op: 'account-state', kind: req.kind, registers: [reg(CAROL)], more: false })
    }
    expect(await pullAccountState(reversed, merge)).toEqual({ fetched: 4, changed: 4 })
    expect(merged).toEqual(['blocks', 'contacts', 'declines', 'names'])
    // an older device refuses `names` (answered first here): what it does serve is merged, then the round fails
    merged.length = 0
    const older = async (req: SyncRequest) => {
      if (req.op === 'account-state' && req.kind === 'names') throw Object.assign(new Error('unknown kind'), { code: 'invalid_argument' })
      return reversed(req)
    }
    await expect(pullAccountState(older, merge)).rejects.toMatchObject({ code: 'invalid_argument' })
    expect(merged).toEqual(['blocks', 'contacts', 'declines'])
  })

  it('skips malformed declines and fails (sync_protocol) on answers that do not move on or answer something else', async () => {
    const { laptop } = await devices()
    expect(await laptop.requests.mergeDeclines([{ peer: 'nope', upTo: 'x' }, { peer: BOB, upTo: 'not-an-id' }])).toBe(0)
    expect((await laptop.requests.declinesAfter(undefined, 10)).declines).toEqual([])
    const merge = { registers: async () => ({ changed: 0 }), declines: () => Promise.resolve(0) }
    const stuck = async (req: SyncRequest) =>
      req.op === 'account-state' ? { op: 'account-state' as const, kind: req.kind, registers: [], more: true } : { op: 'declines' as const, declines: [], more: false }
    await expect(pullAccountState(stuck, merge)).rejects.toMatchObject({ code: 'sync_protocol' })
    const other = async () => ({ op: 'conversations' as const, conversations: [], more: false })
    await expect(pullAccountState(other, merge)).rejects.toMatchObject({ code: 'sync_protocol' })
  })
})
