import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Cleanup, tempDir } from '@baran/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import { ACTOR_ENTRY, ACTOR_NODE_FLAGS, actorEntryFor, actorNodeFlags } from '../src/lib/child.ts'

const cleanup = new Cleanup()
afterAll(() => cleanup.run())

describe('actorEntryFor: what the supervisor spawns for an implementation', () => {
  it("a built package's bundle when it has one, else the generic entry that imports the module", async () => {
    const packages = await tempDir(cleanup, 'baran-entry-')
    const pkg = join(packages, 'outbox')
    await mkdir(pkg)
    const inRepo = (url: string) => actorEntryFor(url, `${pathToFileURL(packages).href}/`)
    await mkdir(join(pkg, 'dist'))
    await writeFile(join(pkg, 'dist', 'index.js'), 'export const actor = {}\n')
    const built = pathToFileURL(join(pkg, 'dist', 'index.js')).href
    expect(inRepo(built)).toBe(ACTOR_ENTRY)
    await writeFile(join(pkg, 'dist', 'actor.bundle.js'), '// bundle\n')
    expect(inRepo(built)).toBe(join(pkg, 'dist', 'actor.bundle.js'))
    // A package outside this repository's packages keeps the generic entry, whatever files sit beside it.
    expect(actorEntryFor(built, 'file:///elsewhere/packages/')).toBe(ACTOR_ENTRY)
    // Sources, a user's own module beside a bundle-named file, or anything that is not a file: never a bundle.
    await writeFile(join(pkg, 'mine.js'), 'export const actor = {}\n')
    await writeFile(join(pkg, 'actor.bundle.js'), '// not ours\n')
    expect(inRepo(pathToFileURL(join(pkg, 'src', 'index.ts')).href)).toBe(ACTOR_ENTRY)
    expect(inRepo(pathToFileURL(join(pkg, 'mine.js')).href)).toBe(ACTOR_ENTRY)
    expect(inRepo('data:text/javascript,export const actor = {}')).toBe(ACTOR_ENTRY)
  })
})

describe('actorNodeFlags: the V8 flags of an actor process', () => {
  it('the common flags for every actor, TurboFan off for naming, later for the others; Node accepts them all', () => {
    for (const name of ['identity', 'naming', 'discovery', 'transport', 'outbox', 'someone-elses']) {
      const flags = actorNodeFlags(name)
      expect(flags.slice(0, ACTOR_NODE_FLAGS.length)).toEqual(ACTOR_NODE_FLAGS)
      // An option Node or V8 does not know makes the actor's process exit before it runs anything.
      expect(execFileSync(process.execPath, [...flags, '-p', '1'], { encoding: 'utf8' }).trim()).toBe('1')
    }
    expect(actorNodeFlags('naming')).toContain('--no-opt')
    expect(actorNodeFlags('discovery')).toContain('--invocation-count-for-turbofan=15000')
    expect(actorNodeFlags('outbox')).toContain('--invocation-count-for-turbofan=15000')
    expect(actorNodeFlags('someone-elses')).toEqual(ACTOR_NODE_FLAGS)
    expect(actorNodeFlags('toString')).toEqual(ACTOR_NODE_FLAGS)
  })
})
