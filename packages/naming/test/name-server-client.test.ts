import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nameClaimMessage } from '@baran/trust'
import fc from 'fast-check'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NameServer, startNameServer } from '../src/lib/name-server.ts'
import { NameServerClient, verifyServerRecord } from '../src/lib/name-server-client.ts'
import { account, client, freePort, uniqueName, useDevnet } from './helpers.ts'

const env = useDevnet()
let server: NameServer
let ns: NameServerClient
/** A lying server: answers GET /name with whatever the test put in `lies`, else forwards to the honest one. */
let liar: Server
let liarUrl: string
const lies = new Map<string, object>()

beforeAll(async () => {
  server = await startNameServer({ client: client(env.devnet, 1), sponsor: true, rateLimit: false })
  ns = new NameServerClient({ url: server.url })
  liar = createServer(async (req, res) => {
    const name = req.url?.startsWith('/name/') ? decodeURIComponent(req.url.slice(6)) : ''
    const lie = lies.get(name)
    const upstream = lie ? undefined : await fetch(`${server.url}${req.url}`)
    const body = lie ? JSON.stringify(lie) : await upstream!.text()
    res.writeHead(lie ? 200 : upstream!.status, { 'content-type': 'application/json' }).end(body)
  })
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r))
  liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`
})
afterAll(async () => {
  await server?.close()
  await new Promise<void>((r) => (liar ? liar.close(() => r()) : r()))
})

async function registerThrough(c: NameServerClient, name: string, seed: number) {
  const acct = account(seed)
  const owner = Wallet.createRandom().address
  const d = await c.domain()
  const signature = await acct.signClaim(nameClaimMessage({ name, owner, chainId: BigInt(d.chainId), registry: d.registry }))
  const r = await c.register(name, { accountId: acct.accountId, publicKey: acct.publicKey, owner, signature })
  return { acct, owner, signature, r }
}

describe('NameServerClient', () => {
  it('domain: the chain and registry claims are bound to', async () => {
    expect(await ns.domain()).toEqual({ chainId: String(env.devnet.chainId), registry: env.devnet.registry })
  })

  it('register posts a signed claim (the server pays gas); lookup and reverse verify it', async () => {
    const name = uniqueName('hc')
    const { acct, owner, r } = await registerThrough(ns, name, 21)
    expect(r.txHashes).toHaveLength(2)
    expect(r.blockNumber).toBeGreaterThan(0)
    expect(await ns.lookup(name)).toMatchObject({ name, accountId: acct.accountId, publicKey: acct.publicKey, owner })
    expect(await ns.reverse(acct.accountId)).toBe(name)
    // A retry of the same registration succeeds; another account's is name_taken.
    await expect(registerThrough(ns, name, 22)).rejects.toMatchObject({ name: 'NameTakenError', code: 'name_taken' })
  })

  it('a free name is not_found, a bad one invalid_name (before any request)', async () => {
    await expect(ns.lookup(uniqueName('free'))).rejects.toMatchObject({ name: 'NameNotFoundError', code: 'not_found' })
    await expect(ns.lookup('Bad Name')).rejects.toMatchObject({ name: 'InvalidNameError', code: 'invalid_name' })
    await expect(ns.reverse('ab'.repeat(20))).rejects.toMatchObject({ code: 'not_found' })
  })

  it('a lying server cannot forge: another key, a junk signature, a Jami record without a Baran claim are forged_record', async () => {
    const c = new NameServerClient({ url: liarUrl })
    const real = uniqueName('lie')
    const { acct, owner, signature } = await registerThrough(ns, real, 23)
    const honest = { name: real, addr: `0x${acct.accountId}`, owner, baranPublicKey: acct.publicKey, baranSignature: signature }
    const other = account(24)
    const cases: Record<string, object> = {
      [uniqueName('lk')]: { ...honest, addr: `0x${other.accountId}` }, // someone else's account ID
      [uniqueName('lk')]: { ...honest, baranPublicKey: other.publicKey, addr: `0x${other.accountId}` }, // another key, signature does not match
      [uniqueName('lk')]: { addr: `0x${acct.accountId}`, owner, publickey: 'AAAA', signature: 'AAAA' }, // Jami fields only
    }
    for (const [name, body] of Object.entries(cases)) {
      lies.set(name, { ...body, name })
      await expect(c.lookup(name)).rejects.toMatchObject({ name: 'ForgedRecordError', code: 'forged_record' })
    }
    // The honest record under another name: the claim names `real`, not this name.
    const moved = uniqueName('mv')
    lies.set(moved, { ...honest, name: moved })
    await expect(c.lookup(moved)).rejects.toMatchObject({ code: 'forged_record' })
    expect(await c.lookup(real)).toMatchObject({ accountId: acct.accountId })
  })

  it('a server that does not answer is unavailable, fast', async () => {
    const c = new NameServerClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 })
    await expect(c.lookup('alice')).rejects.toMatchObject({ name: 'ChainUnavailableError', code: 'unavailable' })
    await expect(c.domain()).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('verifyServerRecord: any junk body is forged_record, never a crash', () => {
    const domain = { chainId: '31337', registry: env.devnet.registry }
    fc.assert(
      fc.property(fc.anything(), (body) => {
        try {
          verifyServerRecord('alice', body, domain)
          return false
        } catch (e) {
          return (e as { code?: unknown }).code === 'forged_record'
        }
      }),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.record({ name: fc.constant('alice'), addr: fc.string(), owner: fc.string(), baranPublicKey: fc.string(), baranSignature: fc.string() }), (body) => {
        expect(() => verifyServerRecord('alice', body, domain)).toThrow(expect.objectContaining({ code: 'forged_record' }))
      }),
      { numRuns: 300 },
    )
  })
})
