import { Cleanup, isAlive, tempDir } from '@baran/testkit'
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ImplementationInspector, InlineInspector, type Inspector } from '../src/lib/inspect.ts'
import { CachedInspector } from '../src/lib/inspect-cache.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

function inspector(make: () => Inspector): Inspector {
  const i = make()
  cleanup.add('close the inspector', () => i.close())
  return i
}
const process_ = () => new ImplementationInspector()
const kinds = [
  ['in a short-lived process (the built node)', process_],
  ['inline (the node from its sources)', () => new InlineInspector()],
] as const

describe('the implementation inspector (implementations are loaded in a short-lived process, not the supervisor)', () => {
  it("describes an implementation's role, contracts and bus needs, checks its config, and leaves no process behind", async () => {
    const i = new ImplementationInspector()
    cleanup.add('close the inspector', () => i.close())
    const [echo] = await i.load([{ name: 'echo', entry: '@baran/testkit/example-actor' }], process.cwd())
    expect(echo?.name).toBe('echo')
    expect(echo?.url).toMatch(/^file:/)
    expect(echo?.contracts.length).toBeGreaterThan(0)
    for (const c of echo?.contracts ?? []) expect(c).toEqual({ actor: 'echo', verb: expect.any(String), callers: expect.any(Array) })
    await i.check({ echo: { greeting: 'salam' } })
    await expect(i.check({ echo: { greeting: 42 } })).rejects.toMatchObject({ name: 'ImplementationError', message: expect.stringContaining('echo.greeting') })
    const pid = i.pid ?? -1
    expect(isAlive(pid)).toBe(true)
    await i.close()
    expect(isAlive(pid)).toBe(false)
  })

  it.each(kinds)('%s: refuses an implementation that speaks another contract version, with the message the supervisor prints', async (_, make) => {
    const dir = await tempDir(cleanup, 'baran-inspect-')
    await writeFile(join(dir, 'v2-naming.ts'), "export const actor = { name: 'naming', version: '9.0.0', implementation: 'v2', contractVersion: 2, contracts: [], config: {}, start() {} }\n")
    await expect(inspector(make).load([{ name: 'naming', entry: './v2-naming.ts' }], dir)).rejects.toMatchObject({
      name: 'ImplementationError',
      code: 'invalid_config',
      message: 'actors.naming: ./v2-naming.ts speaks contract v2, this node speaks v1',
    })
  })
})

describe('the processes a node starts resolve packages like it', () => {
  it('passes on export conditions in each form node accepts, and nothing else', async () => {
    const { conditionFlags } = await import('../src/lib/conditions.ts')
    expect(conditionFlags(['--conditions=@baran/source', '--require', 'x.cjs', '--conditions', 'a', '-C', 'b', '--inspect'])).toEqual(['--conditions=@baran/source', '--conditions', 'a', '-C', 'b'])
    expect(conditionFlags(['--max-semi-space-size=1'])).toEqual([])
  })
})

describe('the inspection cache (a warm start of an unchanged built node skips the inspecting process)', () => {
  /** A built-looking implementation (`<dir>/dist/echo.ts`, the example actor) and a cache whose build stamp is `<dir>/stamp`. */
  async function fixture() {
    const dir = await tempDir(cleanup, 'baran-inspect-cache-')
    await mkdir(join(dir, 'dist'))
    await writeFile(join(dir, 'dist', 'echo.ts'), `export { actor } from ${JSON.stringify(import.meta.resolve('@baran/testkit/example-actor'))}\n`)
    await writeFile(join(dir, 'stamp'), '')
    let opened = 0
    const make = (roots = [dir]) =>
      inspector(
        () =>
          new CachedInspector({
            file: join(dir, 'cache', 'implementations.json'),
            stamp: join(dir, 'stamp'),
            roots,
            open: () => {
              opened++
              return new ImplementationInspector()
            },
          }),
      )
    return { dir, make, opened: () => opened }
  }
  const echo = [{ name: 'echo', entry: './dist/echo.ts' }]

  it('answers a second load and check of the same build and config without opening the inspector', async () => {
    const { dir, make, opened } = await fixture()
    const first = await make().load(echo, dir)
    expect(opened()).toBe(1)
    const a = make()
    expect(await a.load(echo, dir)).toEqual(first)
    expect(opened()).toBe(1)
    // The config was never checked: checked for real, then remembered.
    await a.check({ echo: { greeting: 'salam' } })
    expect(opened()).toBe(2)
    const b = make()
    await b.load(echo, dir)
    await b.check({ echo: { greeting: 'salam' } })
    expect(opened()).toBe(2)
  })

  it('checks a new config for real on a cache hit, and refuses a bad one with the schema message', async () => {
    const { dir, make, opened } = await fixture()
    await make().load(echo, dir)
    const a = make()
    await a.load(echo, dir)
    await expect(a.check({ echo: { greeting: 42 } })).rejects.toMatchObject({ name: 'ImplementationError', message: expect.stringContaining('echo.greeting') })
    expect(opened()).toBe(2)
    // Refused configs are not remembered.
    const b = make()
    await b.load(echo, dir)
    await expect(b.check({ echo: { greeting: 42 } })).rejects.toMatchObject({ name: 'ImplementationError' })
  })

  it('inspects again after a rebuild (a newer build stamp), and never caches a module outside the build', async () => {
    const { dir, make, opened } = await fixture()
    await make().load(echo, dir)
    await make().load(echo, dir)
    expect(opened()).toBe(1)
    const later = new Date(Date.now() + 5000)
    await utimes(join(dir, 'stamp'), later, later)
    await make().load(echo, dir)
    expect(opened()).toBe(2)
    await make().load(echo, dir)
    expect(opened()).toBe(2)
    // Outside the roots (a user's file): its code can change without a rebuild.
    const outside = await tempDir(cleanup, 'baran-inspect-outside-')
    await make([outside]).load(echo, dir)
    await make([outside]).load(echo, dir)
    expect(opened()).toBe(4)
  })

  it('treats a corrupt cache file as a miss', async () => {
    const { dir, make, opened } = await fixture()
    await mkdir(join(dir, 'cache'))
    await writeFile(join(dir, 'cache', 'implementations.json'), '{not json')
    const [d] = await make().load(echo, dir)
    expect(d?.name).toBe('echo')
    await make().load(echo, dir)
    expect(opened()).toBe(1)
  })
})
