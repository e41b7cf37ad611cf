import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { checkBoundaries, formatViolations, importsOf } from '../src/index.ts'

const REPO = fileURLToPath(new URL('../../..', import.meta.url))
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const temps: string[] = []
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A temp workspace holding copies of the named packages (package.json and sources, no node_modules). */
function tempWorkspace(...packages: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'baran-boundaries-'))
  temps.push(root)
  for (const name of packages) {
    cpSync(join(REPO, 'packages', name), join(root, 'packages', name), {
      recursive: true,
      filter: (src) => !/[/\\](node_modules|dist)([/\\]|$)/.test(src),
    })
  }
  return root
}

describe('the boundary check', () => {
  it('passes on the project as it is', () => {
    const violations = checkBoundaries(REPO)
    expect(violations, formatViolations(violations)).toEqual([])
  })

  it('an actor package importing another actor package fails it (copy of transport, any import form)', () => {
    const root = tempWorkspace('transport')
    expect(checkBoundaries(root)).toEqual([])
    writeFileSync(
      join(root, 'packages/transport/src/lib/shortcut.ts'),
      [
        `import type { IdentityActor } from '@baran/identity'`,
        `export { sign } from '@baran/identity/lib'`,
        `export const later = () => import('@baran/outbox')`,
        `// import '@baran/naming' in a comment is not an import`,
        `export const text = "import '@baran/naming'"`,
      ].join('\n'),
    )
    const found = checkBoundaries(root)
    expect(found.map((v) => [v.file, v.line, v.specifier])).toEqual([
      ['packages/transport/src/lib/shortcut.ts', 1, '@baran/identity'],
      ['packages/transport/src/lib/shortcut.ts', 2, '@baran/identity/lib'],
      ['packages/transport/src/lib/shortcut.ts', 3, '@baran/outbox'],
    ])
    expect(found[0]?.reason).toBe('actor package @baran/transport imports the actor package @baran/identity: actors talk only over the bus')
  })

  it('an actor package declaring another actor in its dependencies fails it', () => {
    const root = tempWorkspace('naming')
    const manifestFile = join(root, 'packages/naming/package.json')
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'))
    manifest.dependencies['@baran/discovery'] = '*'
    writeFileSync(manifestFile, JSON.stringify(manifest))
    expect(formatViolations(checkBoundaries(root))).toBe(
      'packages/naming/package.json: actor package @baran/naming imports the actor package @baran/discovery: actors talk only over the bus (package.json)',
    )
  })

  it('trust importing anything with I/O fails it (copy of trust)', () => {
    const root = tempWorkspace('trust')
    expect(checkBoundaries(root)).toEqual([])
    const file = join(root, 'packages/trust/src/lib/canonical.ts')
    writeFileSync(file, `import { readFileSync } from 'node:fs'\nimport { connect } from 'nats'\nimport { createLibp2p } from 'libp2p'\n${readFileSync(file, 'utf8')}`)
    expect(checkBoundaries(root).map((v) => v.reason)).toEqual([
      '@baran/trust imports node:fs, which does I/O: trust is pure (records and signatures only)',
      '@baran/trust imports nats, which does I/O: trust is pure (records and signatures only)',
      '@baran/trust imports libp2p, which does I/O: trust is pure (records and signatures only)',
    ])
  })

  it('bus importing an actor fails it, and the CLI exits 1 naming the file and line (copy of bus)', () => {
    const root = tempWorkspace('bus')
    const file = join(root, 'packages/bus/src/index.ts')
    writeFileSync(file, `${readFileSync(file, 'utf8')}\nexport { actor } from '@baran/outbox'\n`)
    const line = readFileSync(file, 'utf8').split('\n').length - 1
    const run = spawnSync(process.execPath, [CLI, root], { encoding: 'utf8', timeout: 30_000 })
    expect(run.status).toBe(1)
    expect(run.stderr.trim()).toBe(`packages/bus/src/index.ts:${line}: @baran/bus imports @baran/outbox: the bus depends on nothing of ours, least of all an actor`)
  })

  it('bus code importing the launchers, or the launchers importing the bus, fails it; bus tests may start nats-server with them', () => {
    const root = tempWorkspace('bus', 'launch')
    expect(checkBoundaries(root)).toEqual([])
    const busFile = join(root, 'packages/bus/src/lib/launch.ts')
    writeFileSync(busFile, `export { startNatsServer } from '@baran/launch'\n`)
    const launchFile = join(root, 'packages/launch/src/lib/contracts.ts')
    writeFileSync(launchFile, `export { Bus } from '@baran/bus'\n`)
    expect(formatViolations(checkBoundaries(root))).toBe(
      [
        'packages/bus/src/lib/launch.ts:1: @baran/bus imports @baran/launch: the bus depends on nothing of ours',
        'packages/launch/src/lib/contracts.ts:1: @baran/launch imports @baran/bus: the launchers depend on nothing of ours',
      ].join('\n'),
    )
  })

  it('tests may use another actor as a real collaborator only when package.json declares it', () => {
    const root = tempWorkspace('discovery')
    writeFileSync(join(root, 'packages/discovery/test/e2e.test.ts'), `import { actor } from '@baran/outbox'\nexport { actor }\n`)
    expect(checkBoundaries(root).map((v) => v.reason)).toEqual(['@baran/discovery imports @baran/outbox without declaring it in package.json'])
    const manifestFile = join(root, 'packages/discovery/package.json')
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'))
    manifest.devDependencies['@baran/outbox'] = '*'
    writeFileSync(manifestFile, JSON.stringify(manifest))
    expect(checkBoundaries(root)).toEqual([])
  })

  it('a relative import into another package fails it', () => {
    const root = tempWorkspace('outbox', 'identity')
    writeFileSync(join(root, 'packages/outbox/src/lib/reach.ts'), `export { signRecord } from '../../../identity/src/index.ts'\n`)
    expect(checkBoundaries(root).map((v) => v.reason)).toEqual([
      "reaches into another package's files from @baran/outbox: import the package by its name",
    ])
  })
})

describe('importsOf', () => {
  it('finds every import form by parsing, and nothing in comments or strings', () => {
    const text = [
      `import a, { b } from 'pkg-a'`,
      `import type { T } from "pkg-b"`,
      `import 'side-effect'`,
      `export * from 'pkg-c'`,
      `export { d } from 'pkg-d'`,
      `type U = typeof import('pkg-e').U`,
      'const e = await import(`pkg-f`)',
      `const f = require('pkg-g')`,
      `const g = await import(name)`,
      `/* import 'pkg-x' */ const s = "import 'pkg-y'"`,
    ].join('\n')
    expect(importsOf('x.ts', text)).toEqual([
      { specifier: 'pkg-a', line: 1 },
      { specifier: 'pkg-b', line: 2 },
      { specifier: 'side-effect', line: 3 },
      { specifier: 'pkg-c', line: 4 },
      { specifier: 'pkg-d', line: 5 },
      { specifier: 'pkg-e', line: 6 },
      { specifier: 'pkg-f', line: 7 },
      { specifier: 'pkg-g', line: 8 },
      { specifier: '<computed>', line: 9 },
    ])
  })

  it('refuses a file it cannot parse rather than passing it as clean', () => {
    expect(() => importsOf('broken.ts', `import { from 'x'`)).toThrowError(expect.objectContaining({ name: 'SourceParseError' }))
  })
})
