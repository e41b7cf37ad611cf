import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadActor } from '../src/lib/implementations.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('selecting an implementation by configuration', () => {
  it('refuses an implementation that speaks another contract version, with a message naming both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-impl-'))
    dirs.push(dir)
    const path = join(dir, 'v2-naming.ts')
    await writeFile(path, "export const actor = { name: 'naming', version: '9.0.0', implementation: 'v2', contractVersion: 2, contracts: [], config: {}, start() {} }\n")
    await expect(loadActor('naming', './v2-naming.ts', dir)).rejects.toMatchObject({
      name: 'ImplementationError',
      code: 'invalid_config',
      message: 'actors.naming: ./v2-naming.ts speaks contract v2, this node speaks v1',
    })
  })

  it('loads the example static-file naming by path and reports its implementation', async () => {
    const dir = new URL('../../../examples/custom-naming/', import.meta.url).pathname
    const loaded = await loadActor('naming', './static-naming.ts', dir)
    expect(loaded.def.implementation).toBe('examples/custom-naming (static JSON file)')
    expect(loaded.def.contractVersion).toBe(1)
  })
})
