/** Runs one command to completion (ip, nft, apt-get), with a time limit and a typed error. */
import { spawn } from 'node:child_process'
import { COMMAND_TIMEOUT_MS } from './constants.ts'
import { CommandFailedError } from './errors.ts'

export interface ExecOptions {
  /** Written to the command's stdin. */
  input?: string
  /** @default COMMAND_TIMEOUT_MS */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
}

export interface ExecResult {
  stdout: string
  stderr: string
}

/** Resolves with the output when the command exits 0; otherwise throws CommandFailedError. */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const line = [cmd, ...args].join(' ')
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env })
    } catch (err) {
      reject(new CommandFailedError(line, (err as Error).message, { cause: err }))
      return
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? COMMAND_TIMEOUT_MS)
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new CommandFailedError(line, err.message, { cause: err }))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve({ stdout, stderr })
      else reject(new CommandFailedError(line, stderr || `exit ${code ?? signal}`))
    })
    child.stdin?.on('error', () => {}) // a command that exits early closes its stdin: the exit code tells
    child.stdin?.end(opts.input ?? '')
  })
}

/** True when the command can be started and exits 0. */
export async function succeeds(cmd: string, args: string[], opts?: ExecOptions): Promise<boolean> {
  try {
    await exec(cmd, args, opts)
    return true
  } catch {
    return false
  }
}
