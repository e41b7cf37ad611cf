// Refreshes tools/test-durations.json (what tools/test-order.ts starts first) from the last full run's
// test-results/file-durations.json (tools/file-durations.ts): each file's whole time in seconds, its hooks included.
// Run it after `npm test` on the CI machine kind.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const { files } = JSON.parse(readFileSync(join(root, 'test-results', 'file-durations.json'), 'utf8'))
const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(join(import.meta.dirname, 'test-durations.json'), `${JSON.stringify({ measured: new Date().toISOString().slice(0, 10), files: sorted }, null, 1)}\n`)
process.stdout.write(`${Object.keys(sorted).length} files\n`)
