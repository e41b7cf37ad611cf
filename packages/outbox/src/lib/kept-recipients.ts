/**
 * What this device last learned of the devices it sends to, kept on disk: each recipient account's device list and
 * each device's certificate (its X25519 key, from its presence record). The DHT forgets both while the recipient stays
 * offline (a presence lives an hour, any value a day on its storing nodes), yet a message for it must still be sealed
 * and left in its mailbox: the recipient may come back after the sender went away (docs/mailbox.md). Read only when a
 * lookup fails; every fresh answer replaces what is kept, and a device named revoked is forgotten. Identity verifies a
 * kept certificate again at every seal (its signature and its own expiry).
 */
import type { AccountDevices } from './engine-types.ts'
import type { KvStore } from './kv.ts'

const ID = /^[0-9a-f]{40}$/
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()
/** Keys written this run and what was written, so an unchanged answer costs no write (bounded). */
const MAX_REMEMBERED = 4096

export interface KeptCertificate {
  account: string
  cert: unknown
}

export class KeptRecipients {
  #kv: KvStore
  #written = new Map<string, string>()

  constructor(kv: KvStore) {
    this.#kv = kv
  }

  /** The devices of an account as its last answer listed them, all offline (their presence is not known). */
  async devicesOf(account: string): Promise<AccountDevices | undefined> {
    const v = await this.#read(`a.${account}`)
    if (!isObject(v) || !Array.isArray(v.devices) || !Array.isArray(v.revoked)) return undefined
    const devices = v.devices.filter((d): d is string => typeof d === 'string' && ID.test(d))
    const revoked = v.revoked.filter((d): d is string => typeof d === 'string' && ID.test(d))
    return { devices: devices.map((deviceId) => ({ deviceId, online: false, addrs: [] })), revoked }
  }

  async keepDevices(account: string, found: AccountDevices): Promise<void> {
    if (!ID.test(account)) return
    await this.#write(`a.${account}`, { devices: found.devices.map((d) => d.deviceId), revoked: found.revoked })
    for (const id of found.revoked) await this.forget(id)
  }

  async certOf(deviceId: string): Promise<KeptCertificate | undefined> {
    const v = await this.#read(`c.${deviceId}`)
    return isObject(v) && typeof v.account === 'string' && ID.test(v.account) && isObject(v.cert) ? { account: v.account, cert: v.cert } : undefined
  }

  async keepCert(deviceId: string, account: string, cert: unknown): Promise<void> {
    if (ID.test(deviceId) && ID.test(account)) await this.#write(`c.${deviceId}`, { account, cert })
  }

  /** A revoked device: nothing more is sealed to its kept certificate. */
  async forget(deviceId: string): Promise<void> {
    if (!ID.test(deviceId)) return
    this.#written.delete(`c.${deviceId}`)
    // A read first: an account's revoked devices come with every answer, a deletion marker each time would pile up.
    if (await this.#kv.get(`c.${deviceId}`)) await this.#kv.delete(`c.${deviceId}`)
  }

  async #read(key: string): Promise<unknown> {
    const e = await this.#kv.get(key)
    if (!e || e.value.length === 0) return undefined
    try {
      return JSON.parse(fromUtf8.decode(e.value))
    } catch {
      // Not what this module writes: as if nothing were kept (the next fresh answer replaces it).
      return undefined
    }
  }

  async #write(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value)
    if (this.#written.get(key) === json) return
    await this.#kv.put(key, utf8.encode(json))
    this.#written.delete(key)
    this.#written.set(key, json)
    if (this.#written.size > MAX_REMEMBERED) this.#written.delete(this.#written.keys().next().value as string)
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
