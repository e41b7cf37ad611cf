import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Cleanup, finished, spawnProcess, tempDir } from '../src/index.ts'

describe('spawnProcess output: whole lines', () => {
  it('a line longer than a pipe chunk, multi-byte characters across chunks and a last line without newline stay whole', async () => {
    const cleanup = new Cleanup()
    try {
      const dir = await tempDir(cleanup, 'baran-lines-')
      const script = join(dir, 'write.mjs')
      // 300 KB of JSON on one line (several 64 KiB pipe chunks), made of 3-byte characters, then stderr, then a tail.
      await writeFile(
        script,
        "process.stdout.write(JSON.stringify({ text: '€'.repeat(100_000) }) + '\\n'); process.stderr.write('warn\\n'); process.stdout.write('tail')\n",
      )
      const p = spawnProcess(script, { cleanup, source: false })
      expect((await finished(p)).code).toBe(0)
      const json = p.output.find((l) => l.startsWith('{'))
      expect(JSON.parse(json!)).toEqual({ text: '€'.repeat(100_000) })
      expect(p.output).toHaveLength(3)
      expect(p.output).toContain('warn')
      expect(p.output).toContain('tail')
    } finally {
      await cleanup.run()
    }
  })
})
