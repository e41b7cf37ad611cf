#!/usr/bin/env node
/**
 * Builds the JavaScript the node runs (`tsc -p tsconfig.build.json` of every package that has one), only for the
 * packages whose sources changed since their last build, so `npm start` and `npm test` can call it every time.
 * A package is up to date when its build stamp is newer than every file of its src, its package.json and
 * tsconfigs; `<root>/node_modules/.cache/baran/build-stamp` is written once all are, and `apps/node/bin/baran`
 * runs the build only when no source is newer than that stamp (else it runs the sources). Then each default
 * actor is bundled into one file (tools/bundle-actors.mjs), which the supervisor spawns when it runs the build, and
 * the command line into dist/lib/cli.bundle.js (its chunks beside it), which apps/node/bin/baran runs for every command.
 * Plain JavaScript: it runs before anything is built, on the pinned Node.
 *
 *   node tools/build.mjs [--force]   (prints a line only when it built something)
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleActors, bundlesStale } from './bundle-actors.mjs'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const STAMP_DIR = join(ROOT, 'node_modules', '.cache', 'baran')
export const BUILD_STAMP = join(STAMP_DIR, 'build-stamp')
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc')
const force = process.argv.includes('--force')
const PARALLEL = 2

/** Newest mtime (ms) of a file or of every file under a directory. */
function newest(path) {
  let st
  try {
    st = statSync(path)
  } catch {
    return 0
  }
  if (!st.isDirectory()) return st.mtimeMs
  let max = st.mtimeMs // a deleted file changes its directory's mtime
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)))
  return max
}

function packages() {
  const out = []
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(ROOT, group)).sort()) {
      const dir = join(ROOT, group, name)
      const tsconfig = join(dir, 'tsconfig.build.json')
      if (!existsSync(tsconfig)) continue
      const outDir = JSON.parse(readFileSync(tsconfig, 'utf8')).compilerOptions?.outDir ?? 'dist'
      out.push({ name: `${group}/${name}`, dir, outDir: join(dir, outDir), stamp: join(dir, outDir, '.baran-build') })
    }
  }
  return out
}

const stale = (p) =>
  force || newest(p.stamp) < Math.max(newest(join(p.dir, 'src')), newest(join(p.dir, 'package.json')), newest(join(p.dir, 'tsconfig.build.json')), newest(join(ROOT, 'tsconfig.base.json')))

function tsc(p) {
  return new Promise((done) => {
    // A clean output: a source removed since the last build leaves no module behind.
    rmSync(p.outDir, { recursive: true, force: true })
    // --noCheck: emit only (the typecheck is npm test's); no declarations (types point at the sources).
    const child = spawn(TSC, ['-p', join(p.dir, 'tsconfig.build.json'), '--noCheck', '--declaration', 'false'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('exit', (code) => done({ code, out }))
    child.on('error', (err) => done({ code: -1, out: err.message }))
  })
}

const todo = packages().filter(stale)
let failed = false
const t0 = performance.now()
const queue = [...todo]
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const { code, out } = await tsc(p)
      // Type errors (exit 2) still emit JavaScript (the sources only use erasable syntax): the node runs, and
      // `npm test` reports them in its typecheck. Anything else (no output) fails the build.
      if (code === 0 || (code === 2 && existsSync(p.outDir))) {
        if (code === 2) process.stderr.write(`[build] ${p.name}: type errors (built anyway; see npm run typecheck)\n`)
        writeFileSync(p.stamp, '')
      } else {
        failed = true
        process.stderr.write(`[build] ${p.name}: tsc failed (${code})\n${out}\n`)
      }
    }
  }),
)
if (failed) process.exit(1)
// A bundle holds every package it imports: any rebuild makes them all again (so do new dependencies).
if (todo.length > 0 || bundlesStale(ROOT)) {
  const t1 = performance.now()
  const bundled = await bundleActors(ROOT)
  if (bundled.length > 0) process.stderr.write(`[build] bundled ${bundled.join(', ')} in ${Math.round(performance.now() - t1)} ms\n`)
}
mkdirSync(STAMP_DIR, { recursive: true })
writeFileSync(BUILD_STAMP, `${new Date().toISOString()}\n`)
if (todo.length > 0) process.stderr.write(`[build] built ${todo.map((p) => p.name).join(', ')} in ${Math.round(performance.now() - t0)} ms\n`)
