/** Runs one benchmark script in its own process and keeps the last JSON object it prints (stdout). */
import { spawn } from 'node:child_process'
import { dieWithParent } from '@baran/launch'

export interface ScriptResult {
  result: unknown
  seconds: number
  /** Exited 0 and printed a JSON object. */
  ok: boolean
  code: number | null
  signal: string | null
  /** The end of what the script wrote to stderr (at most the last 16 KiB), for a failed entry. */
  stderr: string
}

const STDERR_KEEP = 16 * 1024

/** Node 22 with the workspace's source condition; stderr is passed through (and its end kept); killed after `limitMs` (a last resort). */
export function runBenchScript(file: string, opts: { cwd?: string; limitMs: number; args?: string[] }): Promise<ScriptResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    // A bench ends with its runner (`npm run bench` stopped or killed), and its nodes with it (testkit's spawnCommand).
    const child = spawn(...dieWithParent(process.execPath, ['--conditions=@baran/source', '--expose-gc', file, ...(opts.args ?? [])]), { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d)
      stderr = (stderr + d.toString()).slice(-STDERR_KEEP)
    })
    const limit = setTimeout(() => child.kill('SIGKILL'), opts.limitMs)
    child.on('close', (code, signal) => {
      clearTimeout(limit)
      let result: unknown
      for (const l of stdout.trim().split('\n').reverse()) {
        try {
          const v = JSON.parse(l)
          if (v && typeof v === 'object') {
            result = v
            break
          }
        } catch {}
      }
      resolve({ result, seconds: (Date.now() - started) / 1000, ok: code === 0 && result !== undefined, code, signal, stderr })
    })
  })
}
