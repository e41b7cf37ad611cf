import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The version of a dependency as installed (read from its package.json, found above its resolved entry point),
 * resolved from `from` (the caller's `import.meta.url`: a package may have its own nested copy).
 */
export function installedVersion(name: string, from: string): string {
  let dir = dirname(fileURLToPath(import.meta.resolve(name, from)))
  for (let depth = 0; depth < 10; depth++) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === name && pkg.version !== undefined) return pkg.version
    }
    dir = dirname(dir)
  }
  throw new Error(`no package.json of ${name} found above its entry point`)
}
