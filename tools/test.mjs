// `npm test`: typecheck and lint every package (nx, cached), then run all tests in one vitest run against
// real components, and end with one plain line "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'

// The project's own binaries first, so `node tools/test.mjs <path>` works outside `npm run` too.
const bin = join(import.meta.dirname, '..', 'node_modules', '.bin')
const env = {
  ...process.env,
  PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_TUI: 'false',
  FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR,
}
const step = (title, cmd, args) => {
  process.stdout.write(`\n== ${title}\n`)
  const started = Date.now()
  const r = spawnSync(cmd, args, { stdio: 'inherit', env })
  process.stdout.write(`== ${title}: ${r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  return r.status ?? 1
}

const only = process.argv.slice(2)
let failed = 0
if (only.length === 0) {
  failed += step('typecheck', 'nx', ['run-many', '-t', 'typecheck', '--parallel=2', '--outputStyle=stream'])
  failed += step('lint', 'biome', ['lint', '.'])
}
const testStatus = step('tests', 'vitest', ['run', ...only])
try {
  const r = JSON.parse(readFileSync('test-results/vitest.json', 'utf8'))
  process.stdout.write(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped\n`)
} catch {
  process.stdout.write('\nno test report was written\n')
}
process.exit(failed || testStatus ? 1 : 0)
