/**
 * A naming implementation backed by a static JSON file of names: for air-gapped labs with no EVM chain.
 * It speaks the same contract as @baran/naming (naming.lookup/reverse/info/register) and still verifies every
 * record with @baran/trust: the account ID must be the hash of the key, and the key must have signed the
 * claim (name, owner, chainId, registry) — so a tampered file gives `forged_record`, not a wrong answer.
 *
 * Plug it in with `"actors": { "naming": { "module": "./static-naming.ts", "config": { "file": "names.json" } } }`.
 */
import { defineActor } from '@baran/actor'
import { BusError, namingContracts, namingInfo, namingLookup, namingRegister, namingReverse, type NameRecordReply } from '@baran/bus'
import { fromBase64Url, idFromPublicKey, nameClaimMessage, verifyDetached } from '@baran/trust'
import { readFile } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { z } from 'zod'

const Hex40 = z.string().regex(/^[0-9a-f]{40}$/)
const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/)
const B64u = z.string().regex(/^[A-Za-z0-9_-]+$/)
export const NamesFileSchema = z.object({
  /** The claim domain: records are signed for this chain id and registry address (any values the lab picks). */
  chainId: z.string().regex(/^\d{1,30}$/),
  registry: Address,
  names: z.record(z.string(), z.object({ accountId: Hex40, publicKey: B64u, owner: Address, signature: B64u })),
})
export type NamesFile = z.infer<typeof NamesFileSchema>
export type NameEntry = NamesFile['names'][string]

/** The username rule of the contract: 3–32 of [a-z0-9_-], no '-' at either end. */
const NAME_RE = /^(?!-)[a-z0-9_-]{3,32}(?<!-)$/

/** Verifies one entry against its claim; throws BusError forged_record when it does not hold. */
export function verifyEntry(name: string, e: NameEntry, file: Pick<NamesFile, 'chainId' | 'registry'>): NameRecordReply {
  const key = fromBase64Url(e.publicKey)
  if (key.length !== 32 || idFromPublicKey(key) !== e.accountId) throw new BusError('forged_record', `record of ${name}: key does not match account id`)
  const message = nameClaimMessage({ name, owner: e.owner, chainId: BigInt(file.chainId), registry: file.registry })
  if (!verifyDetached(message, e.signature, key)) throw new BusError('forged_record', `record of ${name}: bad account signature`)
  return { name, accountId: e.accountId, publicKey: e.publicKey, owner: e.owner }
}

/** The degrade/recover reason while the names file cannot be read. */
const FILE = 'names-file'

// Not strict: a node's local network hands every naming actor its chain settings (rpcUrl, registry…), unused here.
const ConfigSchema = z.object({
  /** The names file (relative: to the node's data directory). */
  file: z.string().min(1),
  /** How often an unreadable file is tried again. @default 1000 */
  checkMs: z.number().int().min(50).max(60_000).optional(),
})

/** Builds the actor; `verify` is injectable only so a test can show what a non-verifying one breaks. */
export function staticNaming(verify: typeof verifyEntry = verifyEntry) {
  return defineActor({
    name: 'naming',
    version: '0.1.0',
    implementation: 'examples/custom-naming (static JSON file)',
    contractVersion: 1,
    contracts: namingContracts,
    config: ConfigSchema,
    async start(ctx) {
      const path = isAbsolute(ctx.config.file) ? ctx.config.file : resolve(ctx.dataDir, ctx.config.file)
      // Read on every request: the file is small, and edits apply at once. An unreadable file degrades the actor
      // (other requests are then refused with `unavailable` by the runtime) until a read works again.
      let last: NamesFile | undefined
      let down = false
      const load = async (): Promise<NamesFile> => {
        try {
          last = NamesFileSchema.parse(JSON.parse(await readFile(path, 'utf8')))
          if (down) ctx.recover(FILE)
          down = false
          return last
        } catch (e) {
          if (!down) ctx.degrade(FILE)
          down = true
          throw new BusError('unavailable', `names file ${path}: ${(e as Error).message}`)
        }
      }
      const checkName = (name: string) => {
        if (!NAME_RE.test(name)) throw new BusError('invalid_name', `${JSON.stringify(name)} breaks the name rule (3-32 of [a-z0-9_-])`)
      }
      await load() // a missing or bad file stops the start with a clear message
      ctx.serve(namingLookup, async ({ name }) => {
        checkName(name)
        const f = await load()
        const e = f.names[name]
        if (!e) throw new BusError('not_found', `${name} is not in the names file`)
        return verify(name, e, f)
      })
      ctx.serve(namingReverse, async ({ accountId }) => {
        const f = await load()
        for (const [name, e] of Object.entries(f.names)) {
          if (e.accountId !== accountId) continue
          try {
            return { name: verify(name, e, f).name }
          } catch {
            // a forged entry never answers a reverse lookup
          }
        }
        throw new BusError('not_found', `no verified name for ${accountId}`)
      })
      ctx.serve(namingRegister, ({ name }) => {
        checkName(name)
        throw new BusError('read_only', 'names come from a static file: add the signed record to it')
      })
      // Diagnostics, served while degraded too: they are also how a degraded actor notices the file is back.
      ctx.serve(
        namingInfo,
        async () => {
          const f = await load().catch(() => last)
          if (!f) throw new BusError('unavailable', `names file ${path} was never readable`)
          return { rpcUrl: `file://${path}`, chainId: f.chainId, registry: f.registry, blockNumber: null, ethAddress: null, balanceWei: null }
        },
        { whenDegraded: 'serve' },
      )
      // While degraded no lookup reaches load(): look at the file now and then.
      const timer = setInterval(() => void (down && load().catch(() => undefined)), ctx.config.checkMs ?? 1000)
      return { stop: () => clearInterval(timer), health: () => ({ file: path, readable: !down }) }
    },
  })
}

/** The name the supervisor looks for. */
export const actor = staticNaming()
