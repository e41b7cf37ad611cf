/**
 * The account's contacts and blocks, kept by the identity actor with the account (so they follow it to linked and
 * imported devices): `contacts list|add|remove`, `block`, `unblock`, `blocks`; and contact requests (the outbox: a
 * conversation a non-contact started): `requests list|accept|decline|block`. A peer is a name or an account ID.
 */
import {
  type Bus,
  errorCodeOf,
  identityAddContact,
  identityBlock,
  identityBlocks,
  identityClearConversationName,
  identityContacts,
  identityRemoveContact,
  identitySetConversationName,
  identityUnblock,
  isBusError,
  namingLookup,
  outboxDeclineRequest,
  outboxRequests,
} from '@baran/bus'
import { type NodeSelection, withCliBus } from './connect.ts'
import { CliError, Exit, printJson } from './output.ts'

type Opts = NodeSelection & { json?: boolean }

const ACCOUNT_ID = /^[0-9a-f]{40}$/

/** A command on the account's lists (contacts, blocks, conversation names), with their bus errors explained. */
export const withBus = <T>(opts: NodeSelection, fn: (bus: Bus) => Promise<T>): Promise<T> => withCliBus(opts, fn, explain)

function explain(e: unknown): unknown {
  if (!isBusError(e)) return e
  const make = (message: string, exitCode: number, hint?: string) => new CliError(message, { exitCode, cause: e, ...(hint ? { hint } : {}) })
  switch (errorCodeOf(e, identityAddContact, identityRemoveContact, identityBlock, identityUnblock, identitySetConversationName, identityClearConversationName, namingLookup)) {
    case 'no_responder':
      return make('the identity actor is not running on this node', Exit.Unavailable, 'see `baran status`')
    case 'no_account':
      return make('this node holds no account yet', Exit.Error, 'create one with `baran account create` (or import one)')
    case 'not_found':
      return make(e.message, Exit.Error, 'check the name with `baran lookup <name>`, or give the 40-hex account ID')
    case 'invalid_argument':
    case 'invalid_request':
    case 'invalid_name':
      return make(`invalid: ${e.message}`, Exit.Usage)
    default:
      return make(`${e.code}: ${e.message}`, Exit.Error)
  }
}

/** A 40-hex account ID as given, or the account a name is registered to (verified by the naming actor). */
export async function accountOf(bus: Bus, peer: string): Promise<string> {
  if (ACCOUNT_ID.test(peer)) return peer
  return (await bus.request(namingLookup, { name: peer }, { timeoutMs: 15_000 })).accountId
}

const time = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19)

/** `baran contacts list`: the account's contacts. */
export async function contactsCommand(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { contacts } = await bus.request(identityContacts, {})
    if (opts.json) printJson(contacts)
    else for (const c of contacts) process.stdout.write(`${c.accountId}  ${c.name ?? ''}  added ${time(c.addedAt)}\n`)
    return Exit.Ok
  })
}

/** `baran contacts add <peer> [--as <name>]`: adds (or renames) a contact. */
export async function addContactCommand(peer: string, opts: Opts & { as?: string }): Promise<number> {
  return withBus(opts, async (bus) => {
    const accountId = await accountOf(bus, peer)
    const name = opts.as ?? (ACCOUNT_ID.test(peer) ? undefined : peer)
    const entry = await bus.request(identityAddContact, { accountId, ...(name === undefined ? {} : { name }) })
    if (opts.json) printJson(entry)
    else process.stdout.write(`${entry.accountId}  ${entry.name ?? ''}\n`)
    return Exit.Ok
  })
}

/** `baran contacts remove <peer>`. Exit 1 when it was not a contact. */
export async function removeContactCommand(peer: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { removed } = await bus.request(identityRemoveContact, { accountId: await accountOf(bus, peer) })
    if (opts.json) printJson({ removed })
    else process.stdout.write(removed ? 'removed\n' : 'not a contact\n')
    return removed ? Exit.Ok : Exit.Error
  })
}

/** `baran block <peer>`: nothing more from that account reaches this account's devices. */
export async function blockCommand(peer: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const entry = await bus.request(identityBlock, { accountId: await accountOf(bus, peer) })
    if (opts.json) printJson(entry)
    else process.stdout.write(`blocked ${entry.accountId} (since ${time(entry.blockedAt)})\n`)
    return Exit.Ok
  })
}

/** `baran unblock <peer>`. Exit 1 when it was not blocked. */
export async function unblockCommand(peer: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { unblocked } = await bus.request(identityUnblock, { accountId: await accountOf(bus, peer) })
    if (opts.json) printJson({ unblocked })
    else process.stdout.write(unblocked ? 'unblocked\n' : 'was not blocked\n')
    return unblocked ? Exit.Ok : Exit.Error
  })
}

/** `baran blocks`: the blocked accounts. */
export async function blocksCommand(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { blocks } = await bus.request(identityBlocks, {})
    if (opts.json) printJson(blocks)
    else for (const b of blocks) process.stdout.write(`${b.accountId}  since ${time(b.blockedAt)}\n`)
    return Exit.Ok
  })
}

/** `baran requests list`: conversations started by accounts that are not contacts, newest first. */
export async function requestsCommand(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { requests } = await bus.request(outboxRequests, {})
    if (opts.json) printJson(requests)
    else for (const r of requests) process.stdout.write(`${r.accountId}  ${r.messages} message(s), newest ${time(r.newest.sentAt)}: ${r.newest.preview}\n`)
    return Exit.Ok
  })
}

/** `baran requests accept|decline|block <peer>`: accept adds the contact, decline hides the request, block blocks. */
export async function answerRequestCommand(answer: 'accept' | 'decline' | 'block', peer: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const accountId = await accountOf(bus, peer)
    const result =
      answer === 'accept'
        ? await bus.request(identityAddContact, { accountId, ...(ACCOUNT_ID.test(peer) ? {} : { name: peer }) })
        : answer === 'block'
          ? { ...(await bus.request(identityBlock, { accountId })), ...(await bus.request(outboxDeclineRequest, { peer: accountId })) }
          : await bus.request(outboxDeclineRequest, { peer: accountId })
    if (opts.json) printJson(result)
    else process.stdout.write(`${answer === 'accept' ? 'accepted' : answer === 'block' ? 'blocked' : 'declined'} ${accountId}\n`)
    return Exit.Ok
  })
}
