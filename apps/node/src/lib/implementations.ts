import type { ActorDefinition } from '@baran/actor'
import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
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
