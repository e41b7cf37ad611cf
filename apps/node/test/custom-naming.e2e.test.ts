/**
 * "Swap an actor", end to end: a real `baran start` process configured (config.json `actors.naming`) with the
 * example static-file naming from examples/custom-naming resolves a signed name from its file, refuses a forged
 * one, and `baran status` names the implementation.
 */
import { namingLookup } from '@baran/bus'
import { Cleanup, tempDir } from '@baran/testkit'
import { generateKeyPair } from '@baran/trust'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { makeEntry } from '../../../examples/custom-naming/make-record.ts'
import type { NamesFile } from '../../../examples/custom-naming/static-naming.ts'
import { cli, startNode, stopNode } from './helpers.ts'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const STATIC_NAMING = fileURLToPath(new URL('../../../examples/custom-naming/static-naming.ts', import.meta.url))

describe('a node with a custom naming implementation', () => {
  it('runs the static-file naming named in config.json, resolves its verified names and shows it in baran status', async () => {
    const dir = await tempDir(cleanup, 'baran-names-')
    const owner = `0x${'0c'.repeat(20)}`
    const names: NamesFile = { chainId: '0', registry: `0x${'1a'.repeat(20)}`, names: {} }
    const alice = generateKeyPair()
    names.names.alice = makeEntry('alice', alice, owner, names)
    names.names.mallory = { ...makeEntry('mallory', generateKeyPair(), owner, names), accountId: alice.id }
    const file = join(dir, 'names.json')
    await writeFile(file, JSON.stringify(names))

    const n = await startNode(cleanup, { actors: { identity: '@baran/identity', naming: { module: STATIC_NAMING, config: { file } } } })
    await expect(n.bus.request(namingLookup, { name: 'alice' })).resolves.toEqual({ name: 'alice', accountId: alice.id, publicKey: alice.signer, owner })
    await expect(n.bus.request(namingLookup, { name: 'mallory' })).rejects.toMatchObject({ code: 'forged_record' })
    await expect(n.bus.request(namingLookup, { name: 'nobody' })).rejects.toMatchObject({ code: 'not_found' })
    const status = await n.status()
    expect(status.actors.naming).toMatchObject({ state: 'ready', implementation: STATIC_NAMING })
    const shown = await cli(cleanup, ['status', '--data-dir', n.dataDir], { BARAN_HOME: n.home })
    expect(shown.out).toMatch(/naming\s+ready.*static-naming\.ts/)
    await stopNode(n)
  })
})
