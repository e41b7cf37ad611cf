import { Cleanup, isAlive, tempDir } from '@baran/testkit'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ImplementationInspector, InlineInspector, type Inspector } from '../src/lib/inspect.ts'

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
