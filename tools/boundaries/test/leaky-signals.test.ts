import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { leakySignals, leakySignalsOf } from '../src/index.ts'

const REPO = fileURLToPath(new URL('../../..', import.meta.url))

describe('no AbortSignal.any with an AbortSignal.timeout in it (it leaks with a long-lived signal beside it)', () => {
  it('none in the project sources (packages, apps, tools, examples)', () => {
    expect(leakySignals(REPO).map((l) => `${l.file}:${l.line}`)).toEqual([])
  })

  it('finds a timeout in the list, directly or through a name the module gave it', () => {
    const text = [
      `const a = AbortSignal.any([life, AbortSignal.timeout(1000)])`,
      `const timeout = AbortSignal.timeout(50)`,
      `const b = caller ? AbortSignal.any([caller, timeout]) : timeout`,
      `const c = AbortSignal.any([life, other])`,
      `const d = AbortSignal.timeout(10)`,
    ].join('\n')
    expect(leakySignalsOf('x.ts', text)).toEqual([
      { file: 'x.ts', line: 1 },
      { file: 'x.ts', line: 3 },
    ])
  })
})
