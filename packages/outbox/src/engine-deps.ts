/**
 * The delivery engine's work, over the bus: discovery for an account's devices (with what was kept on disk when the
 * DHT has forgotten them), the mailbox deposit and watches; transport for the send; identity (through the sealing)
 * for each device's envelope.
 */
import type { ActorContext } from '@baran/actor'
import { type Bus, discoveryLookup, discoveryMailboxPut, discoveryUnwatch, discoveryWatch, type ReplyOf, transportSend } from '@baran/bus'
import { decodeEnvelope, mailboxEpoch, mailboxId } from '@baran/trust'
import type { AccountDevices, DeliveryDeps } from './lib/engine-types.ts'
import type { KeptRecipients } from './lib/kept-recipients.ts'
import type { OutboxSealing } from './sealing.ts'

export interface EngineDepsInit {
  bus: Bus
  log: ActorContext<unknown>['log']
  store: DeliveryDeps['store']
  sealing: OutboxSealing
  kept: KeptRecipients
  sendTimeoutMs: number
  /** Deposit in recipients' DHT mailboxes when a direct attempt fails. */
  mailbox: boolean
}

export function engineDeps(init: EngineDepsInit): DeliveryDeps {
  const { bus, log, kept, sealing, sendTimeoutMs } = init
  return {
    store: init.store,
    lookupAccount: async (accountId, signal) => {
      let r: ReplyOf<typeof discoveryLookup>
      try {
        r = await bus.request(discoveryLookup, { accountId }, { signal, timeoutMs: 20_000 })
      } catch (e) {
        // The DHT forgot the account (its devices all offline for a day): its devices as last listed, to deposit for.
        const last = signal.aborted ? undefined : await kept.devicesOf(accountId).catch(() => undefined)
        if (!last) throw e
        log.debug({ accountId, err: (e as Error).message }, 'the devices of an account as last listed (no lookup answer)')
        return last
      }
      const found: AccountDevices = { devices: r.devices.map(({ deviceCert: _, ...presence }) => presence), revoked: r.revoked }
      // Kept on disk with the revoked devices' certificates forgotten there; sealing forgets them in memory.
      await kept.keepDevices(accountId, found).catch((e: unknown) => log.warn({ err: e, accountId }, 'could not keep the devices of an account'))
      for (const id of found.revoked) sealing.forget(id)
      // The certificates the devices' presences carry: sealing to them needs no lookup of each device.
      for (const d of r.devices) if (d.deviceCert && !found.revoked.includes(d.deviceId)) await sealing.know(d.deviceId, accountId, d.deviceCert)
      return found
    },
    send: (req, signal) =>
      bus.request(
        transportSend,
        { peerId: req.peerId, addrs: req.addrs.slice(0, 64), id: req.id, payload: Buffer.from(req.payload).toString('base64'), timeoutMs: sendTimeoutMs },
        { signal, timeoutMs: sendTimeoutMs + 5000 },
      ),
    seal: (req, signal) => sealing.forDevice(req, signal),
    ...(init.mailbox
      ? {
          deposit: async (req: { deviceId: string; envelope: Uint8Array }, signal: AbortSignal) => {
            // The mailbox of the epoch of the envelope's sentAt: what the storing nodes check.
            const mailbox = mailboxId(req.deviceId, mailboxEpoch(decodeEnvelope(req.envelope).sentAt))
            const envelope = Buffer.from(req.envelope).toString('base64')
            return bus.request(discoveryMailboxPut, { mailbox, envelope }, { signal, timeoutMs: 60_000 })
          },
        }
      : {}),
    watch: async (accountId) => void (await bus.request(discoveryWatch, { accountId })),
    unwatch: async (accountId) => void (await bus.request(discoveryUnwatch, { accountId })),
  }
}
