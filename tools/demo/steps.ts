/** The demo's steps: one line each with its time, a summary table at the end. */
import { styleText } from 'node:util'

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR
export const paint = (style: Parameters<typeof styleText>[0], text: string) => (tty ? styleText(style, text) : text)
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

export type Result = 'ok' | 'failed' | 'skipped'
export interface StepRecord {
  key: string
  name: string
  result: Result
  ms: number
  detail: string
}

/** What a step returns when it cannot run here (a missing feature, no network namespaces): not a failure. */
export class Skip {
  readonly reason: string
  constructor(reason: string) {
    this.reason = reason
  }
}

export class Steps {
  readonly records: StepRecord[] = []
  readonly #passed = new Set<string>()
  readonly #interrupted: () => boolean

  constructor(interrupted: () => boolean) {
    this.#interrupted = interrupted
  }

  /** Runs a step unless one it `needs` did not pass (then it is skipped), and prints its line. */
  async run(key: string, name: string, needs: string[], fn: () => Promise<string | Skip | undefined>): Promise<void> {
    if (this.#interrupted()) return
    const missing = needs.filter((k) => !this.#passed.has(k))
    const started = Date.now()
    let result: Result = 'ok'
    let detail = ''
    if (missing.length > 0) {
      result = 'skipped'
      detail = `needs: ${missing.map((k) => this.records.find((s) => s.key === k)?.name ?? k).join(', ')}`
    } else {
      if (tty) process.stdout.write(paint('gray', `  … ${name}`))
      try {
        const r = await fn()
        if (r instanceof Skip) {
          result = 'skipped'
          detail = r.reason
        } else {
          detail = r ?? ''
          this.#passed.add(key)
        }
      } catch (e) {
        result = 'failed'
        detail = (e as Error).message
      }
      if (tty) process.stdout.write('\r\x1b[2K')
    }
    const ms = Date.now() - started
    this.records.push({ key, name, result, ms, detail })
    const mark = result === 'ok' ? paint('green', '✓') : result === 'failed' ? paint('red', '✗') : paint('yellow', '–')
    const time = result === 'skipped' ? '' : paint('gray', ` (${seconds(ms)})`)
    const tail = detail ? ` ${result === 'failed' ? paint('red', detail) : paint('gray', result === 'skipped' ? `skipped: ${detail}` : detail)}` : ''
    process.stdout.write(`${mark} ${name}${time}${tail}\n`)
  }

  /** The summary table: each step, its result and time. */
  table(): string {
    const width = Math.max(...this.records.map((s) => s.name.length), 4)
    const mark = (r: Result) => (r === 'ok' ? paint('green', '✓') : r === 'failed' ? paint('red', '✗') : paint('yellow', 'skipped'))
    const rows = this.records.map(
      (s) => `  ${s.name.padEnd(width)}  ${mark(s.result)}${' '.repeat(Math.max(0, 8 - (s.result === 'skipped' ? 7 : 1)))}${s.result === 'skipped' ? '' : seconds(s.ms).padStart(7)}`,
    )
    return `\n${paint('bold', `  ${'step'.padEnd(width)}  result  time`)}\n  ${'─'.repeat(width + 17)}\n${rows.join('\n')}\n`
  }
}
