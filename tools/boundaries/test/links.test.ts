import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { brokenLinks } from '../src/index.ts'

const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '')
const temps: string[] = []
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('nothing in the project points outside it', () => {
  it('every markdown link of the repository resolves to one of its files', () => {
    const broken = brokenLinks(REPO)
    expect(broken.map((b) => `${b.file}:${b.line} ${b.target}: ${b.reason}`)).toEqual([])
  })

  it('finds a link outside the repository and a link to a missing file, and leaves web links, anchors and code alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'baran-links-'))
    temps.push(root)
    mkdirSync(join(root, 'docs'))
    writeFileSync(join(root, 'docs/architecture.md'), '# A\n')
    writeFileSync(
      join(root, 'README.md'),
      [
        'Read [the design](../shared/DESIGN.md).',
        'See [the architecture](docs/architecture.md#a), [the web](https://example.org/x) and [above](#top).',
        '![gone](docs/missing.png)',
        '```',
        '[in code](../not/a/link.md)',
        '```',
      ].join('\n'),
    )
    expect(brokenLinks(root)).toEqual([
      { file: 'README.md', line: 1, target: '../shared/DESIGN.md', reason: 'points outside the repository' },
      { file: 'README.md', line: 3, target: 'docs/missing.png', reason: 'no such file in the repository' },
    ])
  })
})
