/**
 * What `npm run bench` keeps of each bench: one entry per bench in `bench/results/<name>.json`, either the
 * figures of its last successful run or, when its last run failed, a failed entry (exit code and the end of
 * its stderr) in place of the old figures, so the table never shows stale figures as current.
 */

export interface Machine {
  cpus: number
  model: string
  loadavg: string
  node: string
  at: string
}

export interface FailedRun {
  /** Exit code, or null when a signal ended the process. */
  code: number | null
  signal: string | null
  /** Why the run counts as failed, in words. */
  reason: string
  /** The last lines the bench wrote to stderr. */
  stderrTail: string[]
}

export interface BenchEntry {
  name: string
  /** Absent for a result file written by something other than the runner (e.g. a test recording a measurement). */
  machine?: Machine
  seconds?: number
  /** The last JSON object the bench printed; absent when it failed. */
  result?: unknown
  /** Present when the last run failed: the entry then carries no figures. */
  failed?: FailedRun
}

/** How many stderr lines a failed entry keeps. */
export const STDERR_TAIL_LINES = 20

/** The last `n` non-empty lines of a text. */
export function lastLines(text: string, n = STDERR_TAIL_LINES): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n)
}

/** The entry to store for one run: its figures when it exited 0 with a JSON result, otherwise a failed entry. */
export function entryOf(name: string, machine: Machine, run: { seconds: number; code: number | null; signal?: string | null; result: unknown; stderr: string }): BenchEntry {
  if (run.code === 0 && run.result !== undefined) return { name, machine, seconds: run.seconds, result: run.result }
  const reason = run.code === 0 ? 'exited 0 without printing a JSON result' : run.code === null ? `killed by ${run.signal ?? 'a signal'}` : `exited with code ${run.code}`
  return { name, machine, seconds: run.seconds, failed: { code: run.code, signal: run.signal ?? null, reason, stderrTail: lastLines(run.stderr) } }
}

/**
 * A result file as stored: the runner's entries as they are; any other JSON object (a test that records a
 * measurement, like apps/node/test/nats-restart.e2e.test.ts) becomes an entry of its own figures, named by its
 * `name` or else by its file.
 */
export function readEntry(file: string, raw: unknown): BenchEntry {
  const o = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : { value: raw }
  const name = typeof o.name === 'string' ? o.name : file.replace(/\.json$/, '')
  if (o.machine && typeof o.machine === 'object' && typeof o.seconds === 'number') return o as unknown as BenchEntry
  const { name: _name, ...result } = o
  return { name, result }
}

/** Flattens a result into `a.b.c` → value rows (arrays as JSON, numbers rounded to 3 decimals). */
export function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (value === null || typeof value !== 'object') return [[prefix || 'value', String(value)]]
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return flatten(v, key)
    return [[key, Array.isArray(v) ? JSON.stringify(v) : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v)]]
  })
}

const cell = (s: string) => s.replaceAll('|', '\\|')

/** `bench/results/README.md`: one section per entry, sorted by name; a failed bench shows why, never figures. */
export function renderReadme(entries: BenchEntry[]): string {
  let md = '# Benchmark results\n\nWritten by `npm run bench` (tools/bench/run.ts). Ratios are measured side by side in one run.\n'
  for (const r of [...entries].sort((a, b) => a.name.localeCompare(b.name))) {
    const when = r.machine
      ? `${r.machine.at} · ${r.machine.cpus} cores · load ${r.machine.loadavg} · ${r.machine.node} · ${(r.seconds ?? Number.NaN).toFixed(1)} s`
      : 'written outside `npm run bench` (no machine recorded)'
    if (r.failed) {
      md += `\n## ${r.name}: FAILED\n\n${when}\n\nThe last run ${r.failed.reason}; no figures are shown for it (earlier ones were removed).\n`
      md += r.failed.stderrTail.length ? `\nLast lines of stderr:\n\n\`\`\`\n${r.failed.stderrTail.join('\n')}\n\`\`\`\n` : '\nIt wrote nothing to stderr.\n'
      continue
    }
    md += `\n## ${r.name}\n\n${when}\n\n| metric | value |\n| --- | --- |\n`
    for (const [k, v] of flatten(r.result)) md += `| ${cell(k)} | ${cell(v)} |\n`
  }
  return md
}
