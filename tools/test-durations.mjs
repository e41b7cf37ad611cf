// Refreshes tools/test-durations.json (what tools/test-order.ts starts first) from the last full run's report,
// test-results/vitest.json: each file's wall time in seconds, rounded. Run it after `npm test` on the CI machine kind.
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'

const root = join(import.meta.dirname, '..')
const report = JSON.parse(readFileSync(join(root, 'test-results', 'vitest.json'), 'utf8'))
const files = {}
for (const r of report.testResults) {
  if (typeof r.startTime !== 'number' || typeof r.endTime !== 'number') continue
  files[relative(root, r.name)] = Math.round((r.endTime - r.startTime) / 100) / 10
}
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(join(import.meta.dirname, 'test-durations.json'), `${JSON.stringify({ measured: new Date().toISOString().slice(0, 10), files: sorted }, null, 1)}\n`)
process.stdout.write(`${Object.keys(sorted).length} files\n`)
