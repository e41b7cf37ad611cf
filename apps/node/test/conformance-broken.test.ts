/**
 * A broken implementation fails the suite with the rule it broke. The suite runs for real, in a child vitest
 * process (test/fixtures/broken-naming.conformance.ts), and its JSON report is read here: that exercises the
 * suite exactly as an implementer would run it (titles, hooks, assertion messages), and a broken implementation
 * cannot disturb this process's own run.
 */
import { Cleanup, spawnProcess, tempDir } from '@baran/testkit'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const appDir = fileURLToPath(new URL('..', import.meta.url))
const vitestBin = fileURLToPath(new URL('../../../node_modules/vitest/vitest.mjs', import.meta.url))

interface Report {
  testResults: Array<{ assertionResults: Array<{ title: string; status: string; failureMessages: string[] }> }>
}

describe('a broken implementation', () => {
  it('a naming lookup that skips signature verification fails exactly the forged_record rule, named in the message', async () => {
    const out = join(await tempDir(cleanup), 'report.json')
    const child = spawnProcess(vitestBin, {
      cleanup,
      args: ['run', '--root', appDir, '--config', 'test/fixtures/vitest.broken.config.ts', '--reporter=json', `--outputFile=${out}`],
    })
    const { code } = await child.exited
    expect(code, child.output.slice(-20).join('\n')).toBe(1)
    const report = JSON.parse(await readFile(out, 'utf8')) as Report
    const results = report.testResults.flatMap((f) => f.assertionResults)
    const failed = results.filter((r) => r.status === 'failed')
    expect(failed.map((r) => r.title)).toEqual(['naming.lookup: a forged record is refused with forged_record'])
    expect(failed[0]?.failureMessages.join('\n')).toContain('naming.lookup: a forged record is refused with forged_record: expected the error code forged_record, got a reply')
    expect(results.filter((r) => r.status === 'passed').length).toBeGreaterThan(5)
  })
})
