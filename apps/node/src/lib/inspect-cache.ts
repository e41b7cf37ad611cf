import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ActorEntry } from './config.ts'
import type { ActorDescription, Inspector } from './inspect.ts'

/** How many (implementations, build) keys the cache keeps: a few data dirs and configs, never an ever-growing file. */
const MAX_KEYS = 16

interface CacheEntry {
  actors: ActorDescription[]
  /** Hashes of the final configs that passed `check` against these implementations. */
  checked: string[]
}
type CacheFile = Record<string, CacheEntry>

export interface CachedInspectorInit {
  /** The JSON file holding earlier inspections. */
  file: string
  /** The build stamp (tools/build.mjs): a rebuild changes its mtime, which invalidates every entry. */
  stamp: string
  /** Only implementations whose module lies in a `dist` directory under one of these (the build's output) are cached. */
  roots: string[]
  /** The real inspector, opened only when the cache cannot answer. */
  open: () => Inspector
}

const sha256 = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex')

/**
 * An Inspector that remembers what it learned about built-in implementations: loading them takes a short-lived
 * process ~1.5-3 s of module loading on a small machine, on the critical path of every `baran start`. The answer
 * depends only on the built code (keyed by the build stamp's mtime, the Node version and the configured entries)
 * and, for `check`, on the final config (its hash), so a warm start of an unchanged node skips the process entirely.
 * A module outside `roots` (a user's file, an npm package) is never cached: its code can change without a rebuild.
 * An unreadable or corrupt cache is only a miss; a failed write is ignored (the next start inspects again).
 */
export class CachedInspector implements Inspector {
  #init: CachedInspectorInit
  #inner: Inspector | undefined
  #request: { actors: Array<{ name: string; entry: ActorEntry }>; baseDir: string } | undefined
  #key: string | undefined
  #entry: CacheEntry | undefined

  constructor(init: CachedInspectorInit) {
    this.#init = init
  }

  /** Whether the last load or check ran the real inspector (for tests and the start log). */
  get inspected(): boolean {
    return this.#inner !== undefined
  }

  async load(actors: Array<{ name: string; entry: ActorEntry }>, baseDir: string): Promise<ActorDescription[]> {
    this.#request = { actors, baseDir }
    this.#key = await this.#keyOf(actors, baseDir)
    const hit = this.#key ? (await this.#read())[this.#key] : undefined
    if (hit) {
      this.#entry = hit
      return hit.actors
    }
    const described = await this.#open().load(actors, baseDir)
    this.#entry = { actors: described, checked: [] }
    // Cached only when every module lies in the build: the key stands for their code.
    if (this.#key && described.every((a) => this.#covered(a.url))) await this.#write(this.#key, this.#entry)
    else this.#key = undefined
    return described
  }

  async check(configs: Record<string, unknown>): Promise<void> {
    const hash = sha256(configs)
    if (this.#entry?.checked.includes(hash)) return
    let inner = this.#inner
    if (!inner) {
      // A cache hit for the code, a new config: load for real to check it against the schemas.
      if (!this.#request) throw new Error('CachedInspector.check called before load')
      inner = this.#open()
      await inner.load(this.#request.actors, this.#request.baseDir)
    }
    await inner.check(configs)
    if (this.#key && this.#entry) {
      this.#entry.checked = [...this.#entry.checked.slice(-7), hash]
      await this.#write(this.#key, this.#entry)
    }
  }

  async close(): Promise<void> {
    await this.#inner?.close()
  }

  #open(): Inspector {
    this.#inner ??= this.#init.open()
    return this.#inner
  }

  #covered(url: string): boolean {
    if (!url.startsWith('file:')) return false
    const path = fileURLToPath(url)
    return path.includes('/dist/') && this.#init.roots.some((r) => path.startsWith(`${r}/`))
  }

  /** The cache key, or undefined when an entry cannot be cached (no build stamp, a module outside the build). */
  async #keyOf(actors: Array<{ name: string; entry: ActorEntry }>, baseDir: string): Promise<string | undefined> {
    const stampMs = await stat(this.#init.stamp).then(
      (s) => s.mtimeMs,
      () => undefined,
    )
    if (stampMs === undefined) return undefined
    const urls: string[] = []
    for (const { entry } of actors) {
      const spec = typeof entry === 'string' ? entry : entry.module
      let url: string
      try {
        url = spec.startsWith('.') || isAbsolute(spec) ? pathToFileURL(resolve(baseDir, spec)).href : import.meta.resolve(spec)
      } catch {
        return undefined // the real inspector says why
      }
      if (!this.#covered(url)) return undefined
      urls.push(url)
    }
    // The urls stand for the data dir where it matters (a relative path): package names resolve alike from every one.
    return sha256({ actors, urls, stampMs, node: process.version })
  }

  async #read(): Promise<CacheFile> {
    try {
      const parsed = JSON.parse(await readFile(this.#init.file, 'utf8')) as unknown
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as CacheFile) : {}
    } catch {
      return {}
    }
  }

  async #write(key: string, entry: CacheEntry): Promise<void> {
    try {
      const all = await this.#read()
      delete all[key]
      const kept = Object.entries(all).slice(-(MAX_KEYS - 1))
      const tmp = `${this.#init.file}.${process.pid}.tmp`
      await mkdir(dirname(this.#init.file), { recursive: true })
      await writeFile(tmp, JSON.stringify(Object.fromEntries([...kept, [key, entry]])))
      await rename(tmp, this.#init.file)
    } catch {
      // A read-only install: inspect again next time.
    }
  }
}

/** The repository root of this build (apps/node/dist/lib → ../../../..). */
const ROOT = resolve(fileURLToPath(new URL('../../../../', import.meta.url)))

/** Where the built node keeps its inspection cache and which build it belongs to (see tools/build.mjs). */
export const BUILD_CACHE = {
  file: join(ROOT, 'node_modules', '.cache', 'baran', 'implementations.json'),
  stamp: join(ROOT, 'node_modules', '.cache', 'baran', 'build-stamp'),
  roots: ['packages', 'apps'].map((d) => join(ROOT, d)),
}
