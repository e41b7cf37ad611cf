import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type BenchEntry, entryOf, lastLines, readEntry, renderReadme, STDERR_TAIL_LINES } from '../results.ts'
import { runBenchScript } from '../run-script.ts'

const machine = { cpus: 2, model: 'test', loadavg: '0.10 0.20 0.30', node: 'v22', at: '2026-12-03T21:00:00.000Z' }
const temps: string[] = []
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('bench results', () => {
  it('a run that exited 0 with a JSON result keeps its figures', () => {
    const e = entryOf('node-node', machine, { seconds: 3, code: 0, result: { rssMiB: { total: 400.25 } }, stderr: 'noise' })
    expect(e).toEqual({ name: 'node-node', machine, seconds: 3, result: { rssMiB: { total: 400.25 } } })
  })

  it('a run that failed becomes a failed entry with its exit code and the end of its stderr, and no figures', () => {
    const stderr = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n')
    const e = entryOf('node-delivery', machine, { seconds: 9, code: 1, result: { stale: 1 }, stderr })
    expect(e.result).toBeUndefined()
    expect(e.failed).toEqual({ code: 1, signal: null, reason: 'exited with code 1', stderrTail: lastLines(stderr) })
    expect(e.failed?.stderrTail).toHaveLength(STDERR_TAIL_LINES)
    expect(e.failed?.stderrTail.at(-1)).toBe('line 49')
    expect(entryOf('x', machine, { seconds: 1, code: null, signal: 'SIGKILL', result: undefined, stderr: '' }).failed?.reason).toBe('killed by SIGKILL')
    expect(entryOf('x', machine, { seconds: 1, code: 0, result: undefined, stderr: '' }).failed?.reason).toBe('exited 0 without printing a JSON result')
  })

  it('the table shows a failed bench as FAILED with its stderr, never figures, beside the others', () => {
    const ok: BenchEntry = entryOf('a-ok', machine, { seconds: 2, code: 0, result: { perSec: 1.23456, runs: [1, 2] }, stderr: '' })
    const bad: BenchEntry = entryOf('b-bad', machine, { seconds: 5, code: 3, result: undefined, stderr: 'Error: node did not start\n    at main\n' })
    const md = renderReadme([bad, ok])
    expect(md.indexOf('## a-ok')).toBeLessThan(md.indexOf('## b-bad: FAILED'))
    expect(md).toContain('| perSec | 1.235 |')
    expect(md).toContain('| runs | [1,2] |')
    const failedSection = md.slice(md.indexOf('## b-bad'))
    expect(failedSection).toContain('exited with code 3')
    expect(failedSection).toContain('Error: node did not start\n    at main')
    expect(failedSection).not.toContain('| metric |')
  })

  it('a result file written outside the runner (no machine line) is shown with its figures, not dropped or crashed on', () => {
    const runner = readEntry('a-ok.json', entryOf('a-ok', machine, { seconds: 2, code: 0, result: { x: 1 }, stderr: '' }))
    const other = readEntry('outbox-nats-restart.json', { name: 'outbox-nats-restart', at: '2026-12-03T20:49:23.113Z', runs: [{ deliveredMs: 2527 }] })
    expect(runner.machine).toEqual(machine)
    expect(other).toEqual({ name: 'outbox-nats-restart', result: { at: '2026-12-03T20:49:23.113Z', runs: [{ deliveredMs: 2527 }] } })
    const md = renderReadme([runner, other])
    expect(md).toContain('## outbox-nats-restart\n\nwritten outside `npm run bench`')
    expect(md).toContain('| runs | [{"deliveredMs":2527}] |')
    expect(readEntry('plain.json', 42)).toEqual({ name: 'plain', result: { value: 42 } })
  })

  it('a real failing bench script yields its exit code and stderr, which become a failed entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baran-bench-'))
    temps.push(dir)
    const file = join(dir, 'fail.bench.ts')
    writeFileSync(file, "process.stdout.write('{\"partial\":1}\\n')\nprocess.stderr.write('setting up\\nError: the node never got ready\\n')\nprocess.exit(2)\n")
    const run = await runBenchScript(file, { limitMs: 20_000 })
    expect(run.ok).toBe(false)
    expect(run.code).toBe(2)
    const e = entryOf('t-fail', machine, run)
    expect(e.result).toBeUndefined()
    expect(e.failed?.stderrTail).toEqual(['setting up', 'Error: the node never got ready'])
  })
})
