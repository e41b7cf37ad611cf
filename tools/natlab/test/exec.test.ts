/** Running lab commands: output, typed failures, stdin, time limit. */
import { describe, expect, test } from 'vitest'
import { exec, succeeds } from '../src/lib/exec.ts'

async function failure(p: Promise<unknown>): Promise<Error & { code?: string; command?: string; stderr?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a rejection')
}

describe('exec', () => {
  test('resolves with stdout and stderr, and feeds stdin', async () => {
    expect((await exec('sh', ['-c', 'echo out; echo err >&2'])).stdout).toBe('out\n')
    expect((await exec('sh', ['-c', 'echo err >&2'])).stderr).toBe('err\n')
    expect((await exec('cat', [], { input: 'ruleset' })).stdout).toBe('ruleset')
  })

  test('a non-zero exit is a CommandFailedError with the command and its stderr', async () => {
    const err = await failure(exec('sh', ['-c', 'echo nope >&2; exit 3']))
    expect(err.name).toBe('CommandFailedError')
    expect(err.code).toBe('command_failed')
    expect(err.command).toBe('sh -c echo nope >&2; exit 3')
    expect(err.stderr).toBe('nope\n')
    expect(err.message).toContain('nope')
  })

  test('a missing program is a CommandFailedError, not a crash', async () => {
    const err = await failure(exec('natlab-no-such-program', []))
    expect(err.name).toBe('CommandFailedError')
    expect(await succeeds('natlab-no-such-program', [])).toBe(false)
    expect(await succeeds('true', [])).toBe(true)
  })

  test('a command past its time limit is killed and fails', async () => {
    const err = await failure(exec('sleep', ['10'], { timeoutMs: 100 }))
    expect(err.name).toBe('CommandFailedError')
    expect(err.message).toContain('SIGKILL')
  })
})
