import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/** A link in a markdown file that does not resolve to a file of the repository. */
export interface BrokenLink {
  file: string
  line: number
  target: string
  reason: string
}

const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'coverage', 'test-results', 'results'])

/** Every markdown file under `root` (skipping node_modules, build output and dot-directories). At most `limit`. */
export function markdownFiles(root: string, limit = 5_000): string[] {
  const out: string[] = []
  const pending = [root]
  while (pending.length > 0 && out.length < limit) {
    const dir = pending.pop() as string
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name) && !entry.name.startsWith('.')) pending.push(join(dir, entry.name))
      else if (entry.isFile() && entry.name.endsWith('.md')) out.push(join(dir, entry.name))
    }
  }
  return out.sort()
}

/**
 * Links (`[text](target)`, `![alt](target)`) in the markdown files of a repository that point outside it or at a
 * file it does not have: a person who clones the repository must be able to follow every one. Web links
 * (`http(s):`, `mailto:`) and in-page anchors are left alone; fenced code blocks are skipped.
 */
export function brokenLinks(root: string): BrokenLink[] {
  const broken: BrokenLink[] = []
  for (const file of markdownFiles(root)) {
    let fenced = false
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (/^\s*(```|~~~)/.test(text)) fenced = !fenced
        if (fenced) return
        for (const m of text.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
          const target = m[1] as string
          if (/^(https?:|mailto:|#)/.test(target)) continue
          const path = resolve(dirname(file), decodeURI(target.split('#')[0] as string))
          const at = { file: relative(root, file), line: i + 1, target }
          if (path !== root && !path.startsWith(root + sep)) broken.push({ ...at, reason: 'points outside the repository' })
          else if (!existsSync(path)) broken.push({ ...at, reason: 'no such file in the repository' })
        }
      })
  }
  return broken
}
