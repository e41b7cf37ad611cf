import { Cleanup } from '@baran/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { HistoryStore } from '../src/lib/history.ts'
import { createIdGenerator } from '../src/lib/ids.ts'
import { ContactRequests } from '../src/lib/requests.ts'
import { ALICE, ALICE_PHONE, BOB, BOB_PHONE, CAROL, jetstream } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const NOW = Date.UTC(2026, 0, 1)
const CAROL_PHONE = 'c3'.repeat(20)
const DAVE = 'd1'.repeat(20)

/** Alice's history and requests on a real JetStream KV bucket. */
async function setup() {
  const js = await jetstream(cleanup)
  const kv = await js.bucket('history')
  const history = new HistoryStore({ kv, now: () => NOW })
  const gen = createIdGenerator({ now: () => NOW })
  const received = (from: string, fromDevice: string, body: string) => {
    const id = gen()
    return history.recordReceived({ id, from, fromDevice, to: ALICE, body, sentAt: NOW, receivedAt: NOW }, ALICE).then(() => id)
  }
  const sent = (to: string, body: string) => history.recordSent({ id: gen(), from: ALICE, fromDevice: ALICE_PHONE, to, body, sentAt: NOW })
  return { kv, history, received, sent, requests: new ContactRequests({ history, kv }), reopen: () => new ContactRequests({ history: new HistoryStore({ kv }), kv }) }
}

const known = (over: { contacts?: string[]; blocked?: string[] } = {}) => ({ self: ALICE, contacts: new Set(over.contacts ?? []), blocked: new Set(over.blocked ?? []) })

describe('contact requests (history on real JetStream KV)', () => {
  it('a conversation a stranger started is a request; one this account started, a contact, a blocked account or itself is not', async () => {
    const { received, sent, requests } = await setup()
    await received(BOB, BOB_PHONE, 'hi, we met at the conference')
    const newest = await received(BOB, BOB_PHONE, 'are you there?')
    await sent(CAROL, 'hello Carol')
    await received(CAROL, CAROL_PHONE, 'hello back')
    await received(DAVE, 'd2'.repeat(20), 'buy now')
    await sent(ALICE, 'note to self')

    const list = await requests.list(known())
    expect(list.map((r) => r.accountId).sort()).toEqual([BOB, DAVE].sort())
    expect(list.find((r) => r.accountId === BOB)).toEqual({ accountId: BOB, messages: 2, newest: { id: newest, preview: 'are you there?', sentAt: NOW } })
    expect((await requests.list(known({ contacts: [BOB] }))).map((r) => r.accountId)).toEqual([DAVE])
    expect((await requests.list(known({ blocked: [DAVE] }))).map((r) => r.accountId)).toEqual([BOB])
    expect(await requests.list(known(), 1)).toHaveLength(1)
  })

  it('decline hides what came so far, survives a restart, and a later message asks again', async () => {
    const { received, requests, reopen } = await setup()
    await received(BOB, BOB_PHONE, 'first')
    expect(await requests.decline(BOB)).toBe(true)
    expect(await requests.decline(BOB)).toBe(false)
    expect(await requests.decline(CAROL)).toBe(false)
    expect(await requests.list(known())).toEqual([])
    expect(await reopen().list(known())).toEqual([])
    const later = await received(BOB, BOB_PHONE, 'second try')
    const again = await requests.list(known())
    expect(again).toEqual([{ accountId: BOB, messages: 1, newest: { id: later, preview: 'second try', sentAt: NOW } }])
  })

  it('a damaged decline entry is ignored (the request shows again), a long body is cut to a preview', async () => {
    const { kv, received, requests } = await setup()
    await received(BOB, BOB_PHONE, 'x'.repeat(5000))
    await kv.put(`d.${BOB}`, new TextEncoder().encode('{not json'))
    await kv.put('d.not-a-peer', new TextEncoder().encode('{"upTo":"nope"}'))
    const [r] = await requests.list(known())
    expect(r?.accountId).toBe(BOB)
    expect(r?.newest.preview).toHaveLength(200)
  })
})
