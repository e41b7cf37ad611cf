import { request } from 'node:http'
import { nameClaimMessage } from '@baran/trust'
import { Wallet } from 'ethers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type NameServer, startNameServer } from '../src/lib/name-server.ts'
import { account, client, type TestAccount, uniqueName, useDevnet } from './helpers.ts'

// Who pays gas for a claim, and how often: a real name server over a real anvil, clients on several loopback
// addresses (all of 127.0.0.0/8 reaches `lo`), so that one test sees several client networks.
const env = useDevnet()
let readOnly: NameServer
let sponsor: NameServer
let requests: NameServer

beforeAll(async () => {
  readOnly = await startNameServer({ client: client(env.devnet, 1) })
  sponsor = await startNameServer({ client: client(env.devnet, 2), sponsor: true, rateLimit: { claimsPerKey: 2, claimsPerPrefix: 2 } })
  requests = await startNameServer({ client: client(env.devnet), rateLimit: { perMinute: 2 } })
})
afterAll(async () => {
  await Promise.all([readOnly?.close(), sponsor?.close(), requests?.close()])
})

interface Reply {
  status: number
  body: Record<string, unknown>
  retryAfter?: string
}

/** One HTTP request from a chosen local address (the client's network as the server sees it). */
function callFrom(from: string, base: string, path: string, body?: unknown): Promise<Reply> {
  const { port } = new URL(base)
  const text = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method: text === undefined ? 'GET' : 'POST',
        path,
        headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = ''
        res.on('data', (c) => {
          data += c
        })
        res.on('end', () => {
          const retryAfter = res.headers['retry-after']
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown>, ...(retryAfter ? { retryAfter: String(retryAfter) } : {}) })
        })
      },
    )
    req.on('error', reject)
    req.setTimeout(30_000, () => req.destroy(new Error('no reply')))
    req.end(text)
  })
}

async function claim(name: string, acct: TestAccount) {
  const owner = Wallet.createRandom().address
  const message = nameClaimMessage({ name, owner, chainId: env.devnet.chainId, registry: env.devnet.registry })
  return { addr: `0x${acct.accountId}`, owner, signature: await acct.signClaim(message), publickey: acct.publicKey }
}

describe('name server: paying for other people is an explicit option', () => {
  it('403 with a clear JSON error when the server does not sponsor claims, though it has a wallet', async () => {
    const name = uniqueName('nosp')
    const r = await callFrom('127.0.0.1', readOnly.url, `/name/${name}`, await claim(name, account(201)))
    expect(r).toMatchObject({ status: 403, body: { error: expect.stringMatching(/does not pay for registrations/) } })
    expect((await callFrom('127.0.0.1', readOnly.url, `/name/${name}`)).status).toBe(404)
  })
})

describe('name server: budgets per key and per client network', () => {
  it('one key gets claimsPerKey sponsored claims, however many networks it comes from', async () => {
    const key = account(202)
    const names = [uniqueName('key'), uniqueName('key'), uniqueName('key')]
    const froms = ['127.0.10.1', '127.0.11.1', '127.0.12.1'] // three /24s
    const replies: Reply[] = []
    for (const [i, name] of names.entries()) replies.push(await callFrom(froms[i]!, sponsor.url, `/name/${name}`, await claim(name, key)))
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429])
    expect(replies[2]).toMatchObject({ body: { error: 'too many registrations for this key' }, retryAfter: expect.stringMatching(/^\d+$/) })
    // the refused claim cost the server nothing: the name stays free
    expect((await callFrom('127.0.10.1', sponsor.url, `/name/${names[2]}`)).status).toBe(404)
  })

  it('one network gets claimsPerPrefix sponsored claims, however many fresh keys and addresses it uses', async () => {
    const froms = ['127.0.20.1', '127.0.20.2', '127.0.20.77'] // one /24
    const replies: Reply[] = []
    for (const [i, from] of froms.entries()) {
      const name = uniqueName('net')
      replies.push(await callFrom(from, sponsor.url, `/name/${name}`, await claim(name, account(210 + i))))
    }
    expect(replies.map((r) => r.status)).toEqual([200, 200, 429])
    expect(replies[2]).toMatchObject({ body: { error: 'too many registrations from this network' } })
    // another network still has its budget
    const name = uniqueName('net')
    expect(await callFrom('127.0.21.1', sponsor.url, `/name/${name}`, await claim(name, account(220)))).toMatchObject({ status: 200, body: { success: true } })
  })

  it('every request counts against the client network (/24), not the exact address', async () => {
    const path = `/name/${uniqueName('rq')}`
    expect((await callFrom('127.0.30.1', requests.url, path)).status).toBe(404)
    expect((await callFrom('127.0.30.2', requests.url, path)).status).toBe(404)
    expect(await callFrom('127.0.30.3', requests.url, path)).toMatchObject({ status: 429, body: { error: 'too many requests' } })
    expect((await callFrom('127.0.31.1', requests.url, path)).status).toBe(404)
  })
})
