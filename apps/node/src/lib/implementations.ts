import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ActorDefinition } from '@baran/actor'
import type { ActorEntry, NodeConfig } from './config.ts'

/**
 * The actors a node runs when its config names none. Only actors that exist are listed: each one joins
 * this list when its package ships an `actor` definition.
 */
export const DEFAULT_ACTORS: Record<string, string> = {
  identity: '@baran/identity',
  naming: '@baran/naming',
  discovery: '@baran/discovery',
  transport: '@baran/transport',
  outbox: '@baran/outbox',
}

/**
 * The default actors that share a process, each in a thread of its own: every Node process costs ~45 MiB of
 * memory before any of our code, and these three are pure JavaScript. Discovery and transport keep a process each:
 * they run the libp2p nodes (transport a native WebRTC addon, whose crash would end every thread of its process),
 * and a kill -9 of one of them, the parts most exposed to the network, leaves the account's keys and the outbox up.
 */
export const DEFAULT_PROCESSES: Record<string, string> = { identity: 'core', naming: 'core', outbox: 'core' }

/** Contract major versions of the built-in roles: an implementation that speaks another is refused. */
export const ROLE_CONTRACT_VERSIONS: Record<string, number> = { identity: 1, naming: 1, discovery: 1, transport: 1, outbox: 1 }

/** Thrown when an actor implementation cannot be loaded or does not fit its role. */
export class ImplementationError extends Error {
  override name = 'ImplementationError'
  readonly code = 'invalid_config'
}

export interface LoadedActor {
  name: string
  /** What the config said (package name or path). */
  spec: string
  /** The module URL the actor process imports. */
  url: string
  def: ActorDefinition<unknown>
  config: unknown
}

export function configuredActors(config: NodeConfig): Array<{ name: string; entry: ActorEntry }> {
  const entries = config.actors ?? DEFAULT_ACTORS
  return Object.entries(entries)
    .filter(([, e]) => typeof e === 'string' || e.enabled !== false)
    .map(([name, entry]) => ({ name, entry }))
}

/**
 * The shared processes of a config and their actors, in config order: `actors.<name>.process`, or
 * DEFAULT_PROCESSES when the config names no actors. A process named by one actor only is no sharing: that actor
 * runs in a process of its own.
 */
export function sharedProcesses(config: NodeConfig): Map<string, string[]> {
  const groups = new Map<string, string[]>()
  for (const { name, entry } of configuredActors(config)) {
    const process = config.actors === undefined ? DEFAULT_PROCESSES[name] : typeof entry === 'string' ? undefined : entry.process
    if (process !== undefined) groups.set(process, [...(groups.get(process) ?? []), name])
  }
  for (const [process, members] of groups) if (members.length < 2) groups.delete(process)
  return groups
}

/**
 * Resolves and imports an implementation: a package name through the normal resolution (with the source
 * condition), a path relative to the config file's directory. Its module must export `actor`.
 */
export async function loadActor(name: string, entry: ActorEntry, baseDir: string): Promise<LoadedActor> {
  const spec = typeof entry === 'string' ? entry : entry.module
  const config = typeof entry === 'string' ? {} : (entry.config ?? {})
  let url: string
  try {
    url = spec.startsWith('.') || isAbsolute(spec) ? pathToFileURL(resolve(baseDir, spec)).href : import.meta.resolve(spec)
  } catch (e) {
    throw new ImplementationError(`actors.${name}: cannot resolve ${spec}: ${(e as Error).message}`, { cause: e })
  }
  let mod: { actor?: ActorDefinition<unknown> }
  try {
    mod = (await import(url)) as { actor?: ActorDefinition<unknown> }
  } catch (e) {
    throw new ImplementationError(`actors.${name}: cannot load ${spec}: ${(e as Error).message}`, { cause: e })
  }
  const def = mod.actor
  if (!def || typeof def.start !== 'function' || typeof def.name !== 'string' || !def.config) {
    throw new ImplementationError(`actors.${name}: ${spec} does not export an actor definition named \`actor\` (see defineActor)`)
  }
  if (def.name !== name) throw new ImplementationError(`actors.${name}: ${spec} implements "${def.name}", not "${name}"`)
  const wanted = ROLE_CONTRACT_VERSIONS[name]
  if (wanted !== undefined && def.contractVersion !== wanted) {
    throw new ImplementationError(`actors.${name}: ${spec} speaks contract v${def.contractVersion}, this node speaks v${wanted}`)
  }
  return { name, spec, url, def, config }
}

/** Checks an actor's final config (node section + localnet + `actors.<name>.config`) against its schema. */
export function checkActorConfig(a: LoadedActor, merged: unknown): void {
  const parsed = a.def.config.safeParse(merged)
  if (parsed.success) return
  const issue = parsed.error.issues[0]
  const key = issue?.path.map(String).join('.') ?? ''
  throw new ImplementationError(`invalid config for actor ${a.name}: ${a.name}.${key}: ${issue?.message ?? 'invalid'} (from the ${a.name} section, actors.${a.name}.config or the local network)`)
}
