import { readFile } from 'node:fs/promises'
import { z } from 'zod'

/** Thrown when the node's config (file or env) is invalid: the message names the key and where it came from. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'invalid_config'
}

const multiaddr = z.string().min(1).max(512).regex(/^\//, 'a multiaddr starts with /')
const actorName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/)

/** Which implementation runs an actor: a package name (`@baran/discovery`), a path (`./my-discovery.js`), plus its config. */
const ActorEntrySchema = z.union([
  z.string().min(1),
  z
    .object({
      module: z.string().min(1),
      config: z.record(z.string(), z.unknown()).optional(),
      enabled: z.boolean().optional(),
      /** Actors naming the same process run in it, each in a thread of its own (lighter than a process each). */
      process: actorName.optional(),
    })
    .strict(),
])
export type ActorEntry = z.infer<typeof ActorEntrySchema>

export const NodeConfigSchema = z
  .object({
    node: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
    bus: z.object({ url: z.string().regex(/^nats:\/\//, 'a nats:// URL').optional(), user: z.string().optional(), pass: z.string().optional() }).strict().default({}),
    naming: z.object({ rpcUrl: z.url().optional(), registry: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 0x address').optional(), nameServer: z.url().optional() }).strict().default({}),
    discovery: z.object({ listen: z.array(multiaddr).optional(), bootstrap: z.array(multiaddr).optional(), mdns: z.boolean().optional() }).strict().default({}),
    transport: z.object({ listen: z.array(multiaddr).optional(), relays: z.array(multiaddr).optional(), upnp: z.boolean().optional() }).strict().default({}),
    actors: z.record(actorName, ActorEntrySchema).optional(),
    supervisor: z
      .object({
        stopDeadlineMs: z.number().int().min(100).max(120_000).default(5000),
        readyTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
        restart: z
          .object({
            initialMs: z.number().int().min(10).max(60_000).default(250),
            maxMs: z.number().int().min(10).max(600_000).default(10_000),
            crashLoopCount: z.number().int().min(1).max(100).default(5),
            crashLoopWindowMs: z.number().int().min(1000).max(3_600_000).default(60_000),
          })
          .strict()
          .default({ initialMs: 250, maxMs: 10_000, crashLoopCount: 5, crashLoopWindowMs: 60_000 }),
      })
      .strict()
      .default({ stopDeadlineMs: 5000, readyTimeoutMs: 60_000, restart: { initialMs: 250, maxMs: 10_000, crashLoopCount: 5, crashLoopWindowMs: 60_000 } }),
  })
  .strict()
export type NodeConfig = z.infer<typeof NodeConfigSchema>

/** The sections whose keys env vars may override (`BARAN_<SECTION>_<KEY>`, camelCase keys in SNAKE_CASE). */
const OVERRIDABLE: Record<string, Record<string, 'string' | 'list' | 'boolean'>> = {
  bus: { url: 'string', user: 'string', pass: 'string' },
  naming: { rpcUrl: 'string', registry: 'string', nameServer: 'string' },
  discovery: { listen: 'list', bootstrap: 'list', mdns: 'boolean' },
  transport: { listen: 'list', relays: 'list', upnp: 'boolean' },
}

export function envName(section: string, key: string): string {
  return `BARAN_${section.toUpperCase()}_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
}

function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, origin: Map<string, string>): void {
  for (const [section, keys] of Object.entries(OVERRIDABLE)) {
    for (const [key, kind] of Object.entries(keys)) {
      const name = envName(section, key)
      const value = env[name]
      if (value === undefined || value === '') continue
      if (raw[section] === undefined) raw[section] = {}
      const target = raw[section] as Record<string, unknown>
      if (typeof target !== 'object' || target === null || Array.isArray(target)) continue
      if (kind === 'list') target[key] = value.split(',').map((s) => s.trim()).filter(Boolean)
      else if (kind === 'boolean') target[key] = value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value
      else target[key] = value
      origin.set(`${section}.${key}`, name)
    }
  }
}

type Issue = z.core.$ZodIssue
/**
 * A union's issue (e.g. an actor entry: a string or an object) says only "invalid input" at the union's key; the
 * issue of the branch that got furthest names the key that is wrong (`actors.identity.process`).
 */
function deepest(issue: Issue): Issue {
  if (issue.code !== 'invalid_union') return issue
  let best: Issue = issue
  for (const branch of issue.errors) {
    for (const inner of branch) {
      const candidate = deepest({ ...inner, path: [...issue.path, ...inner.path] } as Issue)
      if (candidate.path.length > best.path.length) best = candidate
    }
  }
  return best
}

/**
 * Loads `<dataDir>/config.json` (or `--config <file>`; a missing default file is an empty config), applies
 * `BARAN_<SECTION>_<KEY>` overrides, and validates. Any error names the key and its source.
 */
export async function loadConfig(opts: { file: string; explicit?: boolean; env?: NodeJS.ProcessEnv }): Promise<NodeConfig> {
  const env = opts.env ?? process.env
  let raw: unknown = {}
  try {
    raw = JSON.parse(await readFile(opts.file, 'utf8'))
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code !== 'ENOENT' || opts.explicit) {
      throw new ConfigError(
        err.code === 'ENOENT' ? `config file ${opts.file} does not exist` : `config file ${opts.file} is not valid JSON: ${err.message}`,
        { cause: e },
      )
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`config file ${opts.file}: the top level must be an object`)
  const origin = new Map<string, string>()
  applyEnv(raw as Record<string, unknown>, env, origin)
  const parsed = NodeConfigSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0] && deepest(parsed.error.issues[0])
  const key = issue?.path.map(String).join('.') || '(top level)'
  const from = origin.get(key) ?? origin.get(key.split('.').slice(0, 2).join('.'))
  throw new ConfigError(`invalid config: ${key}: ${issue?.message ?? 'invalid'} (from ${from ?? opts.file})`)
}
