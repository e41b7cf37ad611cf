/**
 * Who may import what (the layout rule of the design): an actor package imports only `bus`, `actor`, `trust` (and
 * `launch`, for a child server it runs, and `p2p`, the libp2p pieces of its host), never another actor; `trust` is pure
 * (no I/O, nothing of ours); `bus` (contracts and client), `launch` (process launchers) and `p2p` depend on nothing of
 * ours, so never on an actor, though the bus's tests start their nats-server with `launch` and p2p's read an installed
 * version with `testkit`; the actor runtime imports no actor. Apps, testkit and tools may import anything.
 */

/** The five actor packages: each its own process, talking to the others only over the bus. */
export const ACTOR_PACKAGES = ['@baran/identity', '@baran/naming', '@baran/discovery', '@baran/transport', '@baran/outbox'] as const

/** What an actor package's production code may import of ours. */
export const ACTOR_MAY_IMPORT = ['@baran/bus', '@baran/actor', '@baran/trust', '@baran/launch', '@baran/p2p'] as const

/** The packages that depend on nothing of ours (in production code): the contracts and client, the launchers, the libp2p pieces. */
export const LEAF_PACKAGES = ['@baran/bus', '@baran/launch', '@baran/p2p'] as const

/** The package of ours each leaf's tests may use (declared in its devDependencies). */
const LEAF_TEST_HELPERS: Record<string, string> = { '@baran/bus': '@baran/launch', '@baran/p2p': '@baran/testkit' }

/** Node built-ins that do I/O (with or without `node:`): `trust` imports none of them. */
export const IO_BUILTINS = [
  'fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'dns/promises', 'tls', 'child_process', 'cluster',
  'worker_threads', 'readline', 'repl', 'inspector', 'os', 'process', 'v8', 'vm',
] as const

/** Packages that do I/O (a name, or a scope ending in `/`): `trust` imports none of them. */
export const IO_PACKAGES = [
  'nats', '@nats-io/', 'libp2p', '@libp2p/', '@chainsafe/', '@multiformats/', 'ethers', 'ws', 'pino', 'undici', 'solc', '@foundry-rs/',
] as const

/** Where an import is: production code (`src/`, `dependencies`) or tests, benches and config (`devDependencies`). */
export type Where = 'src' | 'dev'

/** The package a bare specifier names (`@scope/name` or `name`), or undefined for a relative or absolute path. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined
  if (specifier.startsWith('node:')) return specifier
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
}

function isIo(specifier: string): boolean {
  const bare = specifier.replace(/^node:/, '')
  if ((IO_BUILTINS as readonly string[]).includes(bare)) return true
  const pkg = packageOf(specifier) ?? ''
  return IO_PACKAGES.some((p) => (p.endsWith('/') ? pkg.startsWith(p) : pkg === p))
}

const isOurs = (pkg: string | undefined): pkg is string => pkg?.startsWith('@baran/') === true
const isActor = (pkg: string): boolean => (ACTOR_PACKAGES as readonly string[]).includes(pkg)

/** What a package declares in its package.json. */
export interface Manifest {
  name: string
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}

/**
 * Why `importer` may not import `specifier` from `where`, or undefined when it may. Dependencies listed in
 * package.json are checked as imports too (`dependencies` as 'src', `devDependencies` as 'dev').
 */
export function forbidden(importer: Manifest, specifier: string, where: Where): string | undefined {
  const self = importer.name
  const pkg = packageOf(specifier)
  if (pkg === self) return undefined
  if (isActor(self)) {
    if (where === 'src' && isOurs(pkg) && !(ACTOR_MAY_IMPORT as readonly string[]).includes(pkg)) {
      return isActor(pkg)
        ? `actor package ${self} imports the actor package ${pkg}: actors talk only over the bus`
        : `actor package ${self} imports ${pkg}: an actor's code may import only ${ACTOR_MAY_IMPORT.join(', ')}`
    }
  } else if (self === '@baran/trust') {
    if (isOurs(pkg)) return `@baran/trust imports ${pkg}: trust depends on nothing of ours`
    if (where === 'src' && isIo(specifier)) return `@baran/trust imports ${specifier}, which does I/O: trust is pure (records and signatures only)`
  } else if ((LEAF_PACKAGES as readonly string[]).includes(self)) {
    const what = self === '@baran/bus' ? 'the bus depends' : self === '@baran/p2p' ? 'the libp2p pieces depend' : 'the launchers depend'
    // The bus's tests need a real nats-server, which `@baran/launch` starts.
    const testHelper = where === 'dev' && LEAF_TEST_HELPERS[self] === pkg
    if (isOurs(pkg) && !testHelper) return `${self} imports ${pkg}: ${what} on nothing of ours${isActor(pkg) ? ', least of all an actor' : ''}`
  } else if (self === '@baran/actor') {
    if (isOurs(pkg) && isActor(pkg)) return `the actor runtime imports the actor package ${pkg}`
  } else {
    return undefined
  }
  // Tests and benches may use other packages of ours as real collaborators, when package.json declares them.
  if (where === 'dev' && isOurs(pkg) && importer.dependencies?.[pkg] === undefined && importer.devDependencies?.[pkg] === undefined) {
    return `${self} imports ${pkg} without declaring it in package.json`
  }
  return undefined
}
