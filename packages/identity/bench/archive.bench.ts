/**
 * Archive export/import time with the default scrypt params (DEFAULT_SCRYPT).
 * Run: npx node --conditions=@baran/source packages/identity/bench/archive.bench.ts [runs]
 * Prints one JSON object.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_SCRYPT, decodeArchive, deriveKeys, SealedKeyring } from '../src/index.ts'

const runs = Math.max(1, Math.min(50, Number(process.argv[2] ?? 5) || 5))
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
const round = (x: number) => Math.round(x * 10) / 10

const root = await mkdtemp(join(tmpdir(), 'baran-identity-bench-'))
try {
  const a = new SealedKeyring({ dir: join(root, 'a') })
  await a.load()
  await a.createAccount({ deviceName: 'bench' })
  for (let i = 0; i < 20; i++) await a.addContact({ accountId: i.toString(16).padStart(40, '0'), name: `contact ${i}` })

  const scryptMs: number[] = []
  const exportMs: number[] = []
  const decodeMs: number[] = []
  const importMs: number[] = []
  let archiveBytes = 0
  for (let i = 0; i < runs; i++) {
    let t = performance.now()
    await deriveKeys('password', new Uint8Array(16), DEFAULT_SCRYPT)
    scryptMs.push(performance.now() - t)

    t = performance.now()
    const archive = await a.exportArchive('password')
    exportMs.push(performance.now() - t)
    archiveBytes = archive.length

    t = performance.now()
    await decodeArchive(archive, 'password')
    decodeMs.push(performance.now() - t)

    const b = new SealedKeyring({ dir: join(root, `b${i}`) })
    await b.load()
    t = performance.now()
    await b.importArchive(archive, 'password', { deviceName: `b${i}` })
    importMs.push(performance.now() - t)
  }
  const result = {
    bench: 'identity.archive',
    node: process.version,
    cpus: cpus().length,
    kdf: { name: 'scrypt', ...DEFAULT_SCRYPT, memMiB: (128 * DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p) / 2 ** 20 },
    runs,
    archiveBytes,
    scryptMsP50: round(median(scryptMs)),
    exportMsP50: round(median(exportMs)),
    decodeMsP50: round(median(decodeMs)),
    importMsP50: round(median(importMs)),
    exportMs: exportMs.map(round),
    importMs: importMs.map(round),
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await rm(root, { recursive: true, force: true })
}
