/**
 * Conversation names, kept by the identity actor with the account (so they follow it to its other devices, like
 * contacts): `conversations` lists them, `conversations name <peer> <name>` names one, `--clear` clears it. A peer
 * is a name or an account ID. `history` shows a conversation's name (conversationNameOf).
 */
import { type Bus, identityClearConversationName, identityConversationNames, identitySetConversationName } from '@baran/bus'
import type { NodeSelection } from './connect.ts'
import { accountOf, withBus } from './contacts.ts'
import { CliError, Exit, printJson } from './output.ts'

type Opts = NodeSelection & { json?: boolean }

const time = (t: number) => new Date(t).toISOString().replace('T', ' ').slice(0, 19)

/** The name of the conversation with `peer` (an account ID), or undefined: none, or an identity that cannot tell. */
export async function conversationNameOf(bus: Bus, peer: string): Promise<string | undefined> {
  const r = await bus.request(identityConversationNames, { peer }, { timeoutMs: 5_000 }).catch(() => undefined)
  return r?.names.find((n) => n.peer === peer)?.name
}

/** `baran conversations`: the named conversations. */
export async function conversationsCommand(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const { names } = await bus.request(identityConversationNames, {})
    if (opts.json) printJson(names)
    else for (const n of names) process.stdout.write(`${n.peer}  ${n.name}  named ${time(n.at)}\n`)
    return Exit.Ok
  })
}

/** `baran conversations name <peer> <name>` names (or renames) a conversation; `--clear` clears its name (exit 1: it had none). */
export async function nameConversationCommand(peer: string, name: string | undefined, opts: Opts & { clear?: boolean }): Promise<number> {
  const clear = opts.clear === true
  if (clear === (name !== undefined)) throw new CliError(clear ? 'give either a name or --clear, not both' : 'give a name, or --clear', { exitCode: Exit.Usage })
  return withBus(opts, async (bus) => {
    const accountId = await accountOf(bus, peer)
    if (name === undefined) {
      const { cleared } = await bus.request(identityClearConversationName, { peer: accountId })
      if (opts.json) printJson({ peer: accountId, cleared })
      else process.stdout.write(cleared ? 'name cleared\n' : 'the conversation had no name\n')
      return cleared ? Exit.Ok : Exit.Error
    }
    const entry = await bus.request(identitySetConversationName, { peer: accountId, name })
    if (opts.json) printJson(entry)
    else process.stdout.write(`${entry.peer}  ${entry.name}\n`)
    return Exit.Ok
  })
}
