import { describe, expect, it } from 'vitest'
import { errorText, isRefusal, type RetryFacts, retryDue, settle, settledRecord } from '../src/lib/delivery-outcome.ts'
import type { DeviceRecord } from '../src/lib/records.ts'

const NOW = 1_000_000
const backoff = (attempts: number): number => 1000 * 2 ** attempts
const facts = (over: Partial<RetryFacts> = {}): RetryFacts => ({ attempts: 2, expiresAt: NOW + 60_000, retryNow: false, deliveredElsewhere: false, revoked: false, ...over })
const device: DeviceRecord = { deviceId: 'd'.repeat(40), state: 'queued', attempts: 2, sync: false }

describe('delivery outcome', () => {
  it('a failed attempt is queued again after the back-off for one more failure, with its error', () => {
    const s = settle(facts(), 'sending', { event: { type: 'FAILED' }, error: 'unreachable' }, NOW, backoff)
    expect(s).toEqual({ state: 'queued', attempts: 3, due: NOW + 8000, error: 'unreachable' })
    expect(settledRecord(device, s, NOW)).toEqual({ ...device, state: 'queued', attempts: 3, nextAttemptAt: NOW + 8000, lastError: 'unreachable' })
  })

  it('a retry asked for while it was busy is due at once; the back-off never goes past expiry', () => {
    expect(settle(facts({ retryNow: true }), 'sending', { event: { type: 'FAILED' } }, NOW, backoff)).toMatchObject({ state: 'queued', due: NOW })
    expect(settle(facts({ expiresAt: NOW + 10 }), 'sending', { event: { type: 'FAILED' } }, NOW, backoff)).toMatchObject({ state: 'queued', due: NOW + 10 })
    expect(retryDue({ retryNow: false, expiresAt: NOW + 5 }, 9, NOW, backoff)).toBe(NOW + 5)
  })

  it('a failure at or past expiry expires, and an expiry records no error', () => {
    const s = settle(facts({ expiresAt: NOW }), 'sending', { event: { type: 'FAILED' }, error: 'timeout' }, NOW, backoff)
    expect(s).toEqual({ state: 'expired', attempts: 3, acked: false })
    expect(settledRecord(device, s, NOW)).toEqual({ ...device, state: 'expired', attempts: 3, finishedAt: NOW })
  })

  it('an ack delivers (and says it was acked); a failure after a delivery elsewhere counts as delivered', () => {
    const acked = settle(facts(), 'sending', { event: { type: 'ACKED' } }, NOW, backoff)
    expect(acked).toEqual({ state: 'delivered', attempts: 2, acked: true })
    expect(settledRecord(device, acked, NOW)).toEqual({ ...device, state: 'delivered', attempts: 2, finishedAt: NOW, deliveredAt: NOW })
    expect(settle(facts({ deliveredElsewhere: true }), 'sending', { event: { type: 'FAILED' }, error: 'x' }, NOW, backoff)).toMatchObject({ state: 'delivered' })
  })

  it('a refusal or a revocation rejects, keeping the error; a failure after a revocation is a rejection', () => {
    expect(settle(facts(), 'sending', { event: { type: 'REFUSED' }, error: 'rejected: no' }, NOW, backoff)).toEqual({ state: 'rejected', attempts: 2, acked: false, error: 'rejected: no' })
    expect(settle(facts(), 'queued', { event: { type: 'REVOKED' }, error: 'revoked' }, NOW, backoff)).toMatchObject({ state: 'rejected', error: 'revoked' })
    expect(settle(facts({ revoked: true }), 'sending', { event: { type: 'FAILED' }, error: 'unreachable' }, NOW, backoff)).toMatchObject({ state: 'rejected' })
  })

  it('tells refusals from failures worth retrying, and words an error as code: message, at most 300 characters', () => {
    const err = (code: string, message = 'm') => Object.assign(new Error(message), { code })
    expect(isRefusal(err('rejected'))).toBe(true)
    expect(isRefusal(err('too_large'))).toBe(true)
    expect(isRefusal(err('unreachable'))).toBe(false)
    expect(isRefusal(new Error('plain'))).toBe(false)
    expect(isRefusal('a string')).toBe(false)
    expect(errorText(err('timeout', 'no answer'))).toBe('timeout: no answer')
    expect(errorText(err('timeout', 'timeout after 5 s'))).toBe('timeout after 5 s')
    expect(errorText('x'.repeat(400))).toHaveLength(300)
  })
})
