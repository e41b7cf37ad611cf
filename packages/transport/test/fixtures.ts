/**
 * Test helpers: real trust records (signed with @baran/trust) and hosts that are always stopped.
 */
import { generateKeyPair, type KeyPair, type SignedRecord, signRecord } from '@baran/trust'
import { type Credentials, createTransportHost, type TransportHost, type TransportHostInit } from '../src/index.ts'

const HOUR = 3_600_000

export interface Device {
  account: KeyPair
  device: KeyPair
  cert: SignedRecord
}

/** A device certified by an account (a new account unless given). */
export function makeDevice(
  opts: { account?: KeyPair; name?: string; issuedAt?: number; expiresAt?: number } = {},
): Device {
  const account = opts.account ?? generateKeyPair()
  const device = generateKeyPair()
  const now = Date.now()
  const cert = signRecord(
    {
      type: 'device-cert',
      v: 1,
      seq: 0,
      issuedAt: opts.issuedAt ?? now - 1000,
      expiresAt: opts.expiresAt ?? now + HOUR,
      body: { accountId: account.id, deviceId: device.id, deviceKey: device.signer, name: opts.name ?? 'test device' },
    },
    account.secretKey,
  )
  return { account, device, cert }
}

/** A peer binding of `d`'s device to `peerId`, signed by `signer` (the device key unless given). */
export function makeBinding(d: Device, peerId: string, signer: KeyPair = d.device): SignedRecord {
  const now = Date.now()
  return signRecord(
    {
      type: 'peer-binding',
      v: 1,
      seq: 0,
      issuedAt: now - 1000,
      expiresAt: now + HOUR,
      body: { accountId: d.account.id, deviceId: d.device.id, peerId },
    },
    signer.secretKey,
  )
}

/** The account's revocation list naming `deviceIds`. */
export function makeRevocations(account: KeyPair, deviceIds: string[]): SignedRecord {
  const now = Date.now()
  return signRecord(
    {
      type: 'revocations',
      v: 1,
      seq: 1,
      issuedAt: now - 1000,
      expiresAt: now + HOUR,
      body: { accountId: account.id, devices: deviceIds.map((deviceId) => ({ deviceId, revokedAt: now - 500 })) },
    },
    account.secretKey,
  )
}

export function credentialsFor(d: Device, peerId: string): Credentials {
  return { deviceCert: d.cert, peerBinding: makeBinding(d, peerId) }
}

/** Hosts made through it are stopped by `stopAll()` (call it in afterEach/afterAll). */
export class HostPool {
  private readonly hosts = new Set<TransportHost>()

  /** A started host with fresh valid credentials (unless `withCredentials: false`). */
  async host(
    init: TransportHostInit = {},
    opts: { withCredentials?: boolean } = {},
  ): Promise<TransportHost & { device: Device }> {
    const host = await createTransportHost(init)
    this.hosts.add(host)
    const device = makeDevice()
    if (opts.withCredentials !== false && init.credentials === undefined) {
      host.setCredentials(credentialsFor(device, host.peerId))
    }
    return Object.assign(host, { device })
  }

  track<T extends { stop(): Promise<void> | void }>(thing: T): T {
    this.hosts.add(thing as unknown as TransportHost)
    return thing
  }

  /** Stops one after the other: libp2p takes ~0.5 s when both ends of a connection stop at once. */
  async stopAll(): Promise<void> {
    const all = [...this.hosts]
    this.hosts.clear()
    for (const h of all) {
      try {
        await h.stop()
      } catch {
        // keep stopping the others
      }
    }
  }
}

/** The first multiaddr of a host that is not relayed (for direct dials). */
export function directAddrs(host: TransportHost): string[] {
  return host.multiaddrs().filter((a) => !a.includes('/p2p-circuit'))
}

/** Polls `check` every 20 ms until it is true or `timeoutMs` passes (bounded loop). */
export async function waitUntil(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function failure(p: Promise<unknown>): Promise<Error & { code: string; reason?: string; remote?: boolean }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code: string; reason?: string; remote?: boolean }
  }
  throw new Error('expected the promise to reject')
}

/** A host of `pool` whose credentials are those of a new device of `of`'s account. */
export async function sibling(pool: HostPool, of: Device): Promise<TransportHost & { device: Device }> {
  const h = await pool.host({}, { withCredentials: false })
  const device = makeDevice({ account: of.account, name: 'sibling' })
  h.setCredentials(credentialsFor(device, h.peerId))
  return Object.assign(h, { device })
}
