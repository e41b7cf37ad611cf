import { styleText } from 'node:util'

/** Exit codes scripts can rely on (DataDir: the data dir cannot be created or written, as sysexits' EX_CANTCREAT). */
export const Exit = { Ok: 0, Error: 1, Usage: 2, NotRunning: 3, Unavailable: 4, DataDir: 73, Config: 78 } as const

const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
type Style = Parameters<typeof styleText>[0]
export function paint(style: Style, text: string): string {
  return useColor() ? styleText(style, text) : text
}

const stateStyle: Record<string, Style> = {
  ready: 'green',
  degraded: 'yellow',
  starting: 'cyan',
  connecting: 'cyan',
  spawning: 'cyan',
  backoff: 'yellow',
  stopping: 'gray',
  stopped: 'gray',
  failed: 'red',
  'gave-up': 'red',
  crashed: 'red',
}
export function paintState(state: string): string {
  return paint(stateStyle[state] ?? 'white', state)
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** A failure the user can act on: what went wrong, and what to do next. */
export class CliError extends Error {
  override name = 'CliError'
  readonly exitCode: number
  readonly hint: string | undefined
  constructor(message: string, opts: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause })
    this.exitCode = opts.exitCode ?? Exit.Error
    this.hint = opts.hint
  }
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}
