import type { ActorDefinition } from '@baran/actor'
import { type Cleanup, inlineNode } from '@baran/testkit'
import type { NamingImpl } from '@baran/testkit/conformance'
import { generateKeyPair } from '@baran/trust'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeEntry } from '../../../examples/custom-naming/make-record.ts'
import type { NamesFile } from '../../../examples/custom-naming/static-naming.ts'

let counter = 0
const freshName = (prefix: string) => `${prefix}${process.pid.toString(36)}s${(counter++).toString(36)}`.slice(0, 32)

/** The static-file naming (examples/custom-naming) on an inline node, with records written to its names file. */
export async function staticNamingImpl(cleanup: Cleanup, def: ActorDefinition<unknown>, nodeName: string): Promise<NamingImpl> {
  const n = await inlineNode(cleanup, nodeName, [])
  const file = join(n.dataDir, 'names.json')
  const names: NamesFile = { chainId: '0', registry: `0x${'1a'.repeat(20)}`, names: {} }
  const save = () => writeFile(file, JSON.stringify(names, null, 2))
  await save()
  await n.start(def, { file, checkMs: 100 })
  const owner = `0x${'0b'.repeat(20)}`
  return {
    node: n.name,
    bus: n.bus,
    freshName,
    async publish(name) {
      const kp = generateKeyPair()
      names.names[name] = makeEntry(name, kp, owner, names)
      await save()
      return { name, accountId: kp.id, publicKey: kp.signer, owner }
    },
    async outage() {
      await rename(file, `${file}.away`)
      return () => rename(`${file}.away`, file)
    },
    async publishForged(name) {
      const honest = makeEntry(name, generateKeyPair(), owner, names)
      names.names[name] = { ...honest, accountId: generateKeyPair().id } // someone else's account ID
      await save()
    },
  }
}
