/**
 * Bundles each built-in actor (its package's built `actor` plus @baran/actor's runActor) into one ESM file,
 * `<package>/dist/actor.bundle.js`, which the supervisor spawns in place of the generic entry when it runs the
 * build. One module instead of 300-1,500: the actor loads its code 2-5× faster and keeps less resident memory
 * (apps/node/bench/MEMORY.md). Called by tools/build.mjs after any package was rebuilt, since a bundle holds
 * the code of every package it imports. Plain JavaScript, like build.mjs.
 *
 * Also the command line (apps/node/dist/cli.js and every module it imports) into
 * `apps/node/dist/lib/cli.bundle.js` plus one chunk a command (`cli.bundle-*.js`), which apps/node/bin/baran runs
 * for every command: the supervisor keeps ~6 MiB less resident (80 → 74 MiB, apps/node/bench/MEMORY.md) and a short
 * command such as `baran status` answers ~80 ms sooner than from the modules. The chunks
 * go into dist/lib because the supervisor finds files relative to its own module (`import.meta.url` of
 * dist/lib/child.js, inspect.js, inspect-cache.js: ../actor-entry.js, ./inspect-worker.js, the repository root),
 * and from dist/lib those stay the same. Chunks, not one file: the CLI imports each command on demand, and a
 * module shared by the CLI and a command (CliError, checked with instanceof) must stay one module.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BUNDLE_FILE = 'actor.bundle.js'
/** The default node's actors (apps/node's built-in implementations). */
const ACTORS = ['identity', 'naming', 'discovery', 'transport', 'outbox']
const ENTRY_FILE = '.actor-bundle-entry.js'
/** The command line's bundle (apps/node/bin/baran runs it for every command when it exists) and its chunks' prefix. */
export const CLI_BUNDLE = join('apps', 'node', 'dist', 'lib', 'cli.bundle.js')
const CLI_CHUNK_PREFIX = 'cli.bundle'
// CommonJS dependencies that require() node's modules need a require in an ES module.
const BANNER = "import { createRequire as __baranRequire } from 'node:module'; const require = __baranRequire(import.meta.url);"
/**
 * Left to node_modules at run time: native addons, and packages that read a file relative to their own module
 * (@baran/ui's gateway serves apps/ui/dist, found from its own module: bundled into apps/node/dist/lib it looked for
 * apps/node/dist and served 503 "not built").
 */
const EXTERNAL = [/\.node$/, /^node-datachannel(\/.*)?$/, /^@baran\/ui(\/.*)?$/]
/**
 * An ES import of node:http builds the built-in's module facade by reading every export, and three of them
 * (WebSocket, CloseEvent, MessageEvent) are getters that load Node's copy of undici: 30-40 ms of CPU in every
 * process or thread whose bundle imports node:http, at each start. The bundles import it from this facade
 * instead: the built-in from process.getBuiltinModule, every export it has but those three (a bundle that imports
 * one of them fails to build, with rolldown's "missing export"). require() calls are left as they are.
 */
const HTTP_FACADE = '\0baran:node-http'
const UNDICI_GETTERS = new Set(['WebSocket', 'CloseEvent', 'MessageEvent'])
const httpFacade = {
  name: 'baran-node-http-facade',
  resolveId(source, _importer, extra) {
    if ((source === 'node:http' || source === 'http') && extra?.kind !== 'require-call') return HTTP_FACADE
    return null
  },
  load(id) {
    if (id !== HTTP_FACADE) return null
    const names = Object.keys(process.getBuiltinModule('node:http')).filter((k) => !UNDICI_GETTERS.has(k))
    return `const http = process.getBuiltinModule('node:http');\nexport default http;\n${names.map((k) => `export const ${k} = http.${k};`).join('\n')}\n`
  },
}
/**
 * @achingbrain/ssdp (UPnP's gateway search, which the transport runs at every start) reads its own package.json at
 * run time for its name and version; bundled, that path would be relative to the bundle. So it was left out of the
 * bundle, and its ES import of node:http loaded undici (above) in the transport's start. Its name and version are
 * written into its module here instead; a version of it that reads them another way fails the build, not the node.
 */
const SSDP_MODULE = /[\\/]@achingbrain[\\/]ssdp[\\/]dist[\\/]src[\\/]ssdp\.js$/
const SSDP_PACKAGE_READ = "req('../../package.json')"
const ssdpPackageInline = {
  name: 'baran-ssdp-package-inline',
  transform(code, id) {
    if (!SSDP_MODULE.test(id)) return null
    if (!code.includes(SSDP_PACKAGE_READ)) throw new Error(`${id} no longer reads its package.json as ${SSDP_PACKAGE_READ}`)
    const { name, version } = JSON.parse(readFileSync(join(dirname(id), '..', '..', 'package.json'), 'utf8'))
    return { code: code.replace(SSDP_PACKAGE_READ, JSON.stringify({ name, version })), map: null }
  },
}
const PLUGINS = [httpFacade, ssdpPackageInline]

/**
 * V8 keeps each script's whole source in its heap for as long as the script lives (to compile lazily and for
 * Function.prototype.toString), as a one-byte string only when every character is Latin-1. Kept comments
 * (em dashes, arrows) made each bundle two bytes a character: discovery's 3.5 M characters took ~6.9 MB. No
 * comments, no whitespace and non-ASCII escaped in the code leave a one-byte source ~31 % shorter: under half
 * the heap. Neither compressed nor mangled: function and class names stay readable in stack traces, and the
 * source map still points at the built modules (`node --enable-source-maps`).
 */
const OUTPUT = { comments: false, minify: { compress: false, mangle: false, codegen: { removeWhitespace: true, asciiOnly: true } } }

/**
 * True when a built actor has no bundle (a fresh build, or a bundle that failed before) or one older than the
 * installed dependencies (npm writes node_modules/.package-lock.json at every install): a bundle holds their code;
 * or older than this file (its options shape the bundle).
 */
export function bundlesStale(root) {
  const inputs = Math.max(mtime(join(root, 'node_modules', '.package-lock.json')) ?? 0, mtime(fileURLToPath(import.meta.url)) ?? 0)
  const stale = (built, bundle) => {
    if (!existsSync(built)) return false
    const t = mtime(bundle)
    return t === undefined || t < inputs
  }
  return (
    ACTORS.some((name) => stale(join(root, 'packages', name, 'dist', 'index.js'), join(root, 'packages', name, 'dist', BUNDLE_FILE))) ||
    stale(join(root, 'apps', 'node', 'dist', 'cli.js'), join(root, CLI_BUNDLE))
  )
}

function mtime(file) {
  try {
    return statSync(file).mtimeMs
  } catch {
    return undefined
  }
}

/** Bundles every built actor; a bundle that fails is removed (the supervisor then runs the modules). */
export async function bundleActors(root, log = (line) => process.stderr.write(`${line}\n`)) {
  const done = []
  let rolldown
  try {
    ;({ rolldown } = await import('rolldown'))
  } catch (e) {
    // An old bundle would run code older than the build: none at all, then.
    for (const name of ACTORS) rmSync(join(root, 'packages', name, 'dist', BUNDLE_FILE), { force: true })
    removeCliBundle(root)
    log(`[build] no bundler (rolldown: ${e.message.split('\n')[0]}): the actors run their modules`)
    return done
  }
  for (const name of ACTORS) {
    const dist = join(root, 'packages', name, 'dist')
    const out = join(dist, BUNDLE_FILE)
    if (!existsSync(join(dist, 'index.js'))) continue
    const entry = join(dist, ENTRY_FILE)
    writeFileSync(entry, `import { runActor } from '@baran/actor'\nimport { actor } from '@baran/${name}'\nawait runActor(actor)\n`)
    try {
      const bundle = await rolldown({ input: entry, platform: 'node', logLevel: 'silent', external: EXTERNAL, plugins: PLUGINS })
      await bundle.write({ file: out, format: 'esm', banner: BANNER, codeSplitting: false, sourcemap: true, ...OUTPUT })
      await bundle.close()
      done.push(name)
    } catch (e) {
      rmSync(out, { force: true })
      log(`[build] ${name}: not bundled (${e.message.split('\n')[0]}); its actor runs the modules`)
    } finally {
      rmSync(entry, { force: true })
    }
  }
  if (await bundleCli(root, rolldown, log)) done.push('cli')
  return done
}

/** Removes the command line's bundle and chunks (and their source maps). */
function removeCliBundle(root) {
  const dir = join(root, CLI_BUNDLE, '..')
  if (!existsSync(dir)) return
  for (const f of readdirSync(dir)) if (f.startsWith(CLI_CHUNK_PREFIX)) rmSync(join(dir, f), { force: true })
}

/** Bundles the built command line into dist/lib (see the top of this file); false when there is none or it fails. */
async function bundleCli(root, rolldown, log) {
  const input = join(root, 'apps', 'node', 'dist', 'cli.js')
  removeCliBundle(root)
  if (!existsSync(input)) return false
  try {
    const bundle = await rolldown({ input, platform: 'node', logLevel: 'silent', external: EXTERNAL, plugins: PLUGINS })
    await bundle.write({
      dir: join(root, CLI_BUNDLE, '..'),
      entryFileNames: `${CLI_CHUNK_PREFIX}.js`,
      chunkFileNames: `${CLI_CHUNK_PREFIX}-[name].js`,
      format: 'esm',
      banner: BANNER,
      sourcemap: true,
      ...OUTPUT,
    })
    await bundle.close()
    return true
  } catch (e) {
    removeCliBundle(root)
    log(`[build] the command line: not bundled (${e.message.split('\n')[0]}); \`baran start\` runs its modules`)
    return false
  }
}
