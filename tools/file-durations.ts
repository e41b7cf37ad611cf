/**
 * A vitest reporter that writes each test file's whole time to test-results/file-durations.json: environment, worker
 * prepare, import and set-up files, and every test and hook (vitest's JSON report times a file from its first test to
 * its last, without the beforeAll that starts its nodes: a file that spends 40 s starting four nodes showed as 5 s).
 * `node tools/test-durations.mjs` turns it into tools/test-durations.json, the order `npm test` starts files in.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { Reporter, TestModule } from 'vitest/node'

const ROOT = join(import.meta.dirname, '..')
const FILE_DURATIONS = join(ROOT, 'test-results', 'file-durations.json')

/** Seconds (one decimal) a test module kept its worker busy. */
function moduleSeconds(m: Pick<TestModule, 'diagnostic'>): number {
  const d = m.diagnostic()
  const ms = d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration
  return Math.round(Math.max(ms, 0) / 100) / 10
}

export class FileDurations implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const files: Record<string, number> = {}
    for (const m of testModules) files[relative(ROOT, m.moduleId)] = moduleSeconds(m)
    mkdirSync(join(ROOT, 'test-results'), { recursive: true })
    writeFileSync(FILE_DURATIONS, `${JSON.stringify({ files }, null, 1)}\n`)
  }
}
