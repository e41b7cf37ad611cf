import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, NodeConfigSchema } from '../src/lib/config.ts'
import { DEFAULT_ACTORS, DEFAULT_PROCESSES, loadActor, sharedProcesses } from '../src/lib/implementations.ts'

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

describe('which actors share a process', () => {
  const parse = (actors?: object) => NodeConfigSchema.parse(actors ? { actors } : {})

  it('shares the default one among the default actors, and none of discovery and transport', () => {
    expect(Object.fromEntries(sharedProcesses(parse()))).toEqual({ core: ['identity', 'naming', 'outbox'] })
    for (const name of Object.keys(DEFAULT_PROCESSES)) expect(DEFAULT_ACTORS[name], name).toBeDefined()
  })

  it('follows `process` in a config that names its actors, in config order; a process named once or a disabled actor shares nothing', () => {
    const config = parse({
      identity: { module: '@baran/identity', process: 'a' },
      naming: '@baran/naming',
      outbox: { module: '@baran/outbox', process: 'a' },
      discovery: { module: '@baran/discovery', process: 'alone' },
      transport: { module: '@baran/transport', process: 'a', enabled: false },
    })
    expect(Object.fromEntries(sharedProcesses(config))).toEqual({ a: ['identity', 'outbox'] })
    expect(sharedProcesses(parse({ identity: '@baran/identity', naming: '@baran/naming' })).size).toBe(0)
  })

  it('refuses a process name that is not a name, naming the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-impl-'))
    dirs.push(dir)
    const file = join(dir, 'config.json')
    for (const bad of ['', 'Core', '../x', 'a'.repeat(40), 7]) {
      await writeFile(file, JSON.stringify({ actors: { identity: { module: '@baran/identity', process: bad } } }))
      const err = await loadConfig({ file }).catch((e: unknown) => e)
      expect(err, JSON.stringify(bad)).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toContain('actors.identity.process')
    }
  })
})
