import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { importsOf } from './imports.ts'
import { forbidden, type Manifest, type Where } from './rules.ts'

/** One broken rule: where, what, and why. */
export interface Violation {
  /** Path relative to the checked root (a source file, or a package.json). */
  file: string
  line: number
  specifier: string
  reason: string
}

const SOURCE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'coverage', 'test-results'])

/** Every source file under `dir` (skipping node_modules and build output), sorted. At most `limit` files. */
export function sourceFiles(dir: string, limit = 10_000): string[] {
  const out: string[] = []
  const pending = [dir]
  while (pending.length > 0 && out.length < limit) {
    const current = pending.pop() as string
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.')) pending.push(join(current, entry.name))
      else if (entry.isFile() && SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(join(current, entry.name))
    }
  }
  return out.sort()
}

/** Every source file of the project's packages, apps, tools and examples (a group that cannot be read has none). */
export function projectSourceFiles(root: string): string[] {
  return ['packages', 'apps', 'tools', 'examples'].flatMap((group) => {
    try {
      return sourceFiles(join(root, group))
    } catch {
      return []
    }
  })
}

/** The packages of a workspace: each directory under `<root>/packages` with a package.json. */
export function workspacePackages(root: string): string[] {
  const dir = join(root, 'packages')
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'package.json')))
    .map((e) => join(dir, e.name))
}

/** Check one package: its package.json dependencies and the imports of every source file in it. */
export function checkPackage(root: string, packageDir: string): Violation[] {
  const manifestFile = join(packageDir, 'package.json')
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest
  const violations: Violation[] = []
  const declared: Array<[Record<string, string> | undefined, Where]> = [
    [manifest.dependencies, 'src'],
    [manifest.devDependencies, 'dev'],
  ]
  for (const [deps, where] of declared) {
    for (const dep of Object.keys(deps ?? {})) {
      const reason = forbidden(manifest, dep, where)
      if (reason !== undefined) violations.push({ file: relative(root, manifestFile), line: 0, specifier: dep, reason: `${reason} (package.json)` })
    }
  }
  for (const file of sourceFiles(packageDir)) {
    const where: Where = file.startsWith(join(packageDir, 'src') + sep) ? 'src' : 'dev'
    for (const { specifier, line } of importsOf(file, readFileSync(file, 'utf8'))) {
      const at = { file: relative(root, file), line, specifier }
      if (specifier === '<computed>') {
        if (where === 'src') violations.push({ ...at, reason: 'a computed import cannot be checked: import a literal specifier' })
        continue
      }
      if (specifier.startsWith('.') && reachesIntoAnotherPackage(root, packageDir, resolve(file, '..', specifier))) {
        violations.push({ ...at, reason: `reaches into another package's files from ${manifest.name}: import the package by its name` })
        continue
      }
      const reason = forbidden(manifest, specifier, where)
      if (reason !== undefined) violations.push({ ...at, reason })
    }
  }
  return violations
}

/** True when `target` is inside a workspace package (packages/*, apps/*, tools/*) other than `packageDir`. */
function reachesIntoAnotherPackage(root: string, packageDir: string, target: string): boolean {
  if (target.startsWith(packageDir + sep)) return false
  return ['packages', 'apps', 'tools'].some((group) => target.startsWith(join(root, group) + sep))
}

/** Check every package of the workspace at `root`. */
export function checkBoundaries(root: string): Violation[] {
  return workspacePackages(root).flatMap((dir) => checkPackage(root, dir))
}

/** One line per violation: `file:line: reason`. */
export function formatViolations(violations: Violation[]): string {
  return violations.map((v) => `${v.file}${v.line > 0 ? `:${v.line}` : ''}: ${v.reason}`).join('\n')
}
