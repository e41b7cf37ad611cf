/**
 * The order `npm test` starts its test files in: longest first, over all projects (vitest's own order groups files by
 * project name, so the slowest end-to-end files of `@baran/node` started halfway through the run and set its end).
 * With two workers, starting the longest jobs first keeps the tail short. The durations come from an earlier run
 * (`test-durations.json`, refreshed by `node tools/test-durations.mjs` after a full run); a file not listed there
 * starts first, as vitest does with files it has no history for. A file's own result cache, when vitest has one,
 * is not used: a fresh clone (CI) has none, and the two orders must be the same.
 */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

const ROOT = join(import.meta.dirname, '..')

function durations(): Map<string, number> {
  try {
    const parsed = JSON.parse(readFileSync(join(import.meta.dirname, 'test-durations.json'), 'utf8')) as { files?: Record<string, number> }
    return new Map(Object.entries(parsed.files ?? {}).filter(([, s]) => typeof s === 'number' && Number.isFinite(s)))
  } catch {
    // No table (or a broken one): every file counts as unknown and vitest's size order decides among them.
    return new Map()
  }
}

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = durations()
    // vitest's order (unknown first, then larger files) breaks ties and orders the unknown ones.
    const base = await super.sort(files)
    const rank = new Map(base.map((f, i) => [f, i]))
    const seconds = (f: TestSpecification) => known.get(relative(ROOT, f.moduleId))
    return [...base].sort((a, b) => {
      const groups = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder
      if (groups !== 0) return groups
      const [sa, sb] = [seconds(a), seconds(b)]
      if (sa === undefined || sb === undefined) {
        if (sa !== sb) return sa === undefined ? -1 : 1
        return (rank.get(a) ?? 0) - (rank.get(b) ?? 0)
      }
      return sb - sa || (rank.get(a) ?? 0) - (rank.get(b) ?? 0)
    })
  }
}
