import type { ActorContext } from '@baran/actor'
import { BusError, identityOpen, identitySeal } from '@baran/bus'
import { isEnvelopeError } from '@baran/trust'
import type { z } from 'zod'
import type { EnvelopeService } from './lib/envelopes.ts'

type SealRequest = z.infer<typeof identitySeal.request>
type OpenRequest = z.infer<typeof identityOpen.request>

/** An envelope refusal as the bus error its code names (details.reason: trust's own name for it). */
function envelopeBusError(e: unknown): unknown {
  if (!isEnvelopeError(e)) return e
  const code = e.name === 'NoEncryptionKeyError' ? 'no_encryption_key' : e.reason.replaceAll('-', '_')
  return new BusError(code, e.message, { details: { reason: e.reason }, cause: e })
}

/** Serves identity.seal and identity.open (the keys stay in this process; callers get bytes and verified senders). */
export function serveEnvelopes(ctx: ActorContext<unknown>, envelopes: EnvelopeService, mustHaveAccount: () => void): void {
  const seal = async ({ id, payload, recipients, self }: SealRequest) => {
    try {
      const sealed = await envelopes.seal(id, new Uint8Array(Buffer.from(payload, 'base64')), recipients, { self: self === true })
      return { envelope: Buffer.from(sealed.envelope).toString('base64'), bytes: sealed.envelope.length, recipients: sealed.recipients }
    } catch (e) {
      throw envelopeBusError(e)
    }
  }
  const open = async ({ envelope, senderRevocations, skipReplayWindow }: OpenRequest) => {
    try {
      const opened = await envelopes.open(new Uint8Array(Buffer.from(envelope, 'base64')), {
        ...(senderRevocations ? { senderRevocations } : {}),
        skipReplayWindow: skipReplayWindow === true,
      })
      const { accountId, accountKey, deviceId, deviceKey, deviceName, encKey } = opened.sender
      return {
        id: opened.id,
        sentAt: opened.sentAt,
        payload: Buffer.from(opened.payload).toString('base64'),
        sender: { accountId, accountKey, deviceId, deviceKey, deviceName, ...(encKey ? { encKey } : {}) },
        senderCert: opened.senderCert,
      }
    } catch (e) {
      throw envelopeBusError(e)
    }
  }
  ctx.serve(identitySeal, (req) => {
    mustHaveAccount()
    return seal(req)
  })
  ctx.serve(identityOpen, (req) => {
    mustHaveAccount()
    return open(req)
  })
}
