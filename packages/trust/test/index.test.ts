import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as trust from '../src/index.ts'

// Other packages code against these names: a rename must fail here first.
const runtimeExports = [
  'BadSignatureError',
  'DEFAULT_CLOCK_SKEW_MS',
  'DEFAULT_MAX_RECORD_BYTES',
  'ExpiredRecordError',
  'MAX_CANONICAL_DEPTH',
  'MalformedRecordError',
  'NotYetValidError',
  'ReplayedRecordError',
  'RevokedDeviceError',
  'SEQ_TRACKER_MAX_KEYS',
  'SeqTracker',
  'TrustError',
  'UnknownRecordTypeError',
  'WrongSignerError',
  'bodySchemas',
  'canonicalDecode',
  'canonicalEncode',
  'canonicalString',
  'concatBytes',
  'decodeRecord',
  'encodeRecord',
  'fromBase64Url',
  'fromHex',
  'generateKeyPair',
  'idFromPublicKey',
  'isId',
  'isRecordType',
  'isTrustError',
  'keyPairFromSeed',
  'nameClaimMessage',
  'publicKeyOf',
  'recordSigningBytes',
  'recordTypes',
  'signDetached',
  'signRecord',
  'toBase64Url',
  'toHex',
  'utf8',
  'verifyChain',
  'verifyDetached',
  'verifyDeviceList',
  'verifyRecord',
  'acceptedVersions',
  'versionedBodySchema',
  'decryptEnvelope',
  'ENVELOPE_DOMAIN',
  'envelopeRecipientOf',
  'openEnvelope',
  'sealEnvelope',
  'verifyEnvelope',
  'verifyRevocationList',
  'EnvelopeError',
  'EnvelopeSignatureError',
  'EnvelopeTooLargeError',
  'isEnvelopeError',
  'MalformedEnvelopeError',
  'NoEncryptionKeyError',
  'NotForThisDeviceError',
  'ReplayedEnvelopeError',
  'RevokedSenderError',
  'decodeEnvelope',
  'ENVELOPE_RECIPIENT_BYTES',
  'envelopeBytes',
  'ENVELOPE_VERSION',
  'isEnvelopeId',
  'MAX_ENVELOPE_BYTES',
  'MAX_ENVELOPE_RECIPIENTS',
  'MAX_SENDER_CERT_BYTES',
  'encryptionKeyPairFromSeed',
  'x25519Implementation',
  'MAILBOX_EPOCH_MS',
  'mailboxDeleteSigningBytes',
  'mailboxFetchSigningBytes',
  'mailboxEpoch',
  'mailboxesOf',
  'mailboxId',
  'mergeLww',
]

describe('@baran/trust public API', () => {
  it('exports exactly the documented names', () => {
    expect(Object.keys(trust).sort()).toEqual([...runtimeExports].sort())
  })

  it('works end to end through the package entry', () => {
    const account = trust.keyPairFromSeed(new Uint8Array(32).fill(1))
    const device = trust.keyPairFromSeed(new Uint8Array(32).fill(2))
    const now = 1_800_000_000_000
    const cert = trust.signRecord(
      {
        type: 'device-cert',
        v: 1,
        seq: 0,
        issuedAt: now,
        expiresAt: now + 86_400_000,
        body: { accountId: account.id, deviceId: device.id, deviceKey: device.signer, name: 'laptop' },
      },
      account.secretKey,
    )
    const received = trust.decodeRecord(trust.encodeRecord(cert))
    const typed: trust.SignedRecord<trust.DeviceCertBody> = trust.verifyRecord(received, { now, type: 'device-cert' })
    expect(typed.body.name).toBe('laptop')
    const chain: trust.VerifiedChain = trust.verifyChain({ deviceCert: received, now })
    expect(chain.accountId).toBe(account.id)
  })

  it('README example runs as written', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toContain('verifyChain')
    // Inside the package so that '@baran/trust' resolves; removed even if the import fails.
    const dir = await mkdtemp(join(new URL('.', import.meta.url).pathname, 'tmp-readme-'))
    try {
      const file = join(dir, 'example.ts')
      await writeFile(file, code!)
      await import(file)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
