import type { ActorContext } from '@baran/actor'
import { identityStatus } from '@baran/bus'
import type { Config } from './config.ts'
import { NoAccountError } from './lib/errors.ts'
import { whileIdentityRestarts } from './lib/identity-wait.ts'
import type { SelfIdentity } from './lib/inbox.ts'

/** This node's account, device and its other (non-revoked) devices, from the identity actor. */
export interface Me extends SelfIdentity {
  others: string[]
  /** Devices the account revoked. */
  revoked: string[]
}

/** Asks identity once and remembers (waiting for it while it restarts); identity events (or a minute) make it ask again. */
export class IdentityView {
  #ctx: ActorContext<Config>
  #me: Me | undefined
  #at = 0

  constructor(ctx: ActorContext<Config>) {
    this.#ctx = ctx
  }

  async get(): Promise<Me> {
    if (this.#me && Date.now() - this.#at < 60_000) return this.#me
    const s = await whileIdentityRestarts(() => this.#ctx.bus.request(identityStatus, {}), { signal: this.#ctx.signal })
    if (!s.account) throw new NoAccountError()
    const a = s.account
    this.#me = {
      accountId: a.accountId,
      deviceId: a.deviceId,
      others: a.devices.filter((d) => !d.current && !a.revoked.includes(d.deviceId)).map((d) => d.deviceId),
      revoked: [...a.revoked],
    }
    this.#at = Date.now()
    return this.#me
  }

  forget(): void {
    this.#me = undefined
  }
}

