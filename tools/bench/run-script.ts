/** Runs one benchmark script in its own process and keeps the last JSON object it prints (stdout). */
import { spawn } from 'node:child_process'

export interface ScriptResult {
  result: unknown
  seconds: number
  /** Exited 0 and printed a JSON object. */
  ok: boolean
  code: number | null
}

/** Node 22 with the workspace's source condition; stderr is passed through; killed after `limitMs` (a last resort). */
export function runBenchScript(file: string, opts: { cwd?: string; limitMs: number }): Promise<ScriptResult> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=@baran/source', '--expose-gc', file], { stdio: ['ignore', 'pipe', 'inherit'], ...(opts.cwd ? { cwd: opts.cwd } : {}) })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    const limit = setTimeout(() => child.kill('SIGKILL'), opts.limitMs)
    child.on('exit', (code) => {
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
      resolve({ result, seconds: (Date.now() - started) / 1000, ok: code === 0 && result !== undefined, code })
    })
  })
}
