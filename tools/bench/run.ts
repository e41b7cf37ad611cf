/**
 * `npm run bench [filter…]`: runs every `packages/*\/bench/*.bench.ts`, `apps/*\/bench/*.bench.ts` and
 * `tools/*\/bench/*.bench.ts` (the NAT lab) in its own
 * process (Node 22, source condition), one after the other so they do not disturb each other, keeps the last
 * JSON object each prints, and writes `bench/results/<name>.json` plus `bench/results/README.md` (tables). A bench
 * that fails gets a failed entry (exit code, end of stderr) in place of its old figures.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { basename, join, relative } from 'node:path'
import { entryOf, readEntry, renderReadme } from './results.ts'
import { runBenchScript } from './run-script.ts'

const root = new URL('../../', import.meta.url).pathname
const out = join(root, 'bench', 'results')
const filters = process.argv.slice(2)

async function findBenches(): Promise<string[]> {
  const found: string[] = []
  for (const group of ['packages', 'apps', 'tools']) {
    for (const pkg of await readdir(join(root, group)).catch(() => [])) {
      const dir = join(root, group, pkg, 'bench')
      for (const f of await readdir(dir).catch(() => [])) if (f.endsWith('.bench.ts')) found.push(join(dir, f))
    }
  }
  return found.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort()
}

function nameOf(file: string): string {
  const rel = relative(root, file).split('/')
  return `${rel[1]}-${basename(file, '.bench.ts')}`
}

const benches = await findBenches()
await mkdir(out, { recursive: true })
const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadavg: loadavg().map((x) => x.toFixed(2)).join(' '), node: process.version, at: new Date().toISOString() }
process.stdout.write(`${benches.length} benchmarks on ${machine.cpus} cores (load ${machine.loadavg})\n`)
let failed = 0
for (const file of benches) {
  const name = nameOf(file)
  process.stdout.write(`• ${name} … `)
  // Benches are bounded; the limit is a last resort so `npm run bench` always ends.
  const run = await runBenchScript(file, { cwd: root, limitMs: 40 * 60_000 })
  process.stdout.write(`${run.ok ? 'done' : 'FAILED'} in ${run.seconds.toFixed(1)} s\n`)
  if (!run.ok) failed++
  // A failed run replaces the bench's old figures with a failed entry: the table never shows stale figures as current.
  await writeFile(join(out, `${name}.json`), `${JSON.stringify(entryOf(name, machine, run), null, 2)}\n`)
}

// The README gathers every result on disk (also those of earlier runs of other benches).
const files = (await readdir(out)).filter((f) => f.endsWith('.json')).sort()
const entries = await Promise.all(files.map(async (f) => readEntry(f, JSON.parse(await readFile(join(out, f), 'utf8')))))
await writeFile(join(out, 'README.md'), renderReadme(entries))
process.stdout.write(`results in ${relative(root, out)}/ (README.md has the tables)\n`)
process.exit(failed ? 1 : 0)
