import { Cleanup, tempDir } from '@baran/testkit'
import { peerIdOf } from '@baran/transport'
import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreateKey } from '../src/lib/keys.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('loadOrCreateKey', () => {
  it('creates a 0600 key once and returns the same key after', async () => {
    const file = join(await tempDir(cleanup), 'sub', 'relay.key')
    const a = await loadOrCreateKey(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const b = await loadOrCreateKey(file)
    expect(peerIdOf(b)).toBe(peerIdOf(a))
  })

  it('makes a key readable by others private again, and says so', async () => {
    const file = join(await tempDir(cleanup), 'relay.key')
    await loadOrCreateKey(file)
    await chmod(file, 0o644)
    const warned: object[] = []
    await loadOrCreateKey(file, { debug() {}, info() {}, warn: (o) => warned.push(o), error() {} })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(warned).toEqual([expect.objectContaining({ file, mode: '644' })])
  })

  it('refuses a file that is not a key, without touching it', async () => {
    const file = join(await tempDir(cleanup), 'relay.key')
    await writeFile(file, 'not a key at all', { mode: 0o600 })
    await expect(loadOrCreateKey(file)).rejects.toMatchObject({ name: 'RelayKeyError', code: 'bad_key' })
    expect(await readFile(file, 'utf8')).toBe('not a key at all')
    const dir = await tempDir(cleanup)
    await expect(loadOrCreateKey(dir)).rejects.toMatchObject({ name: 'RelayKeyError', code: 'bad_key' })
  })
})
