/**
 * Throughput of @baran/trust against raw tweetnacl on the same machine, in the same run.
 * Run: npx node --conditions=@baran/source packages/trust/bench/trust.bench.ts  (from the repository root)
 * Prints one JSON object: median ops/s over interleaved rounds (BENCH_ROUNDS x BENCH_ROUND_MS).
 */
import nacl from 'tweetnacl'
import {
  decodeRecord,
  encodeRecord,
  keyPairFromSeed,
  recordSigningBytes,
  signRecord,
  verifyChain,
  verifyRecord,
} from '@baran/trust'

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 300)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

/** ops/s of fn over one round of ROUND_MS (bounded: at most 1e6 iterations). */
function round(fn: () => unknown): number {
  let n = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ROUND_MS && n < 1_000_000) {
    fn()
    n++
    elapsed = performance.now() - start
  }
  return (n * 1000) / elapsed
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * Median ops/s of each function. Rounds are interleaved (a, b, c, a, b, c, …) so that load from
 * other processes on this noisy 2-core machine hits every contender alike.
 */
function compare(fns: Record<string, () => unknown>): Record<string, number> {
  const samples: Record<string, number[]> = {}
  for (const [name, fn] of Object.entries(fns)) {
    for (let i = 0; i < 20; i++) fn() // warm-up
    samples[name] = []
  }
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of Object.entries(fns)) samples[name]!.push(round(fn))
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, Math.round(median(xs))]))
}

const account = keyPairFromSeed(new Uint8Array(32).fill(1))
const device = keyPairFromSeed(new Uint8Array(32).fill(2))
const now = Date.now()
const certUnsigned = {
  type: 'device-cert' as const,
  v: 1,
  seq: 0,
  issuedAt: now,
  expiresAt: now + 86_400_000,
  body: { accountId: account.id, deviceId: device.id, deviceKey: device.signer, name: 'laptop' },
}
const cert = signRecord(certUnsigned, account.secretKey)
const binding = signRecord(
  { type: 'peer-binding', v: 1, seq: 0, issuedAt: now, expiresAt: now + 86_400_000, body: { accountId: account.id, deviceId: device.id, peerId: '12D3KooWBenchPeer' } },
  device.secretKey,
)
const certBytes = encodeRecord(cert)
const bindingBytes = encodeRecord(binding)
const msg = recordSigningBytes(cert)
const rawSig = nacl.sign.detached(msg, account.secretKey)

const results = {
  bench: 'trust',
  node: process.version,
  roundMs: ROUND_MS,
  rounds: ROUNDS,
  recordBytes: certBytes.length,
  ...compare({
    // Library: validate body + canonical encode + Ed25519 sign.
    signRecordPerSec: () => signRecord(certUnsigned, account.secretKey),
    rawSignPerSec: () => nacl.sign.detached(msg, account.secretKey),
    // Library: decode bytes + envelope/body checks + Ed25519 verify.
    decodeVerifyRecordPerSec: () => verifyRecord(decodeRecord(certBytes), { now }),
    rawVerifyPerSec: () => nacl.sign.detached.verify(msg, rawSig, account.publicKey),
    // Full chain from wire bytes: two records, two signatures, two ID hashes.
    verifyChainPerSec: () => verifyChain({ deviceCert: decodeRecord(certBytes), peerBinding: decodeRecord(bindingBytes), now }),
  }),
}
process.stdout.write(`${JSON.stringify(results)}\n`)
