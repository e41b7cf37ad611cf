import { homedir } from 'node:os'
import { basename, join, resolve } from 'node:path'

/** `$BARAN_HOME`, default `~/.baran`: every node's data dir and the machine's localnet.json live there. */
export function baranHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.BARAN_HOME || join(homedir(), '.baran'))
}

export const DEFAULT_NODE = 'default'
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/

/** Thrown when a node name cannot be a bus subject token. */
export class InvalidNodeNameError extends Error {
  override name = 'InvalidNodeNameError'
  readonly code = 'invalid_config'
}

export function assertNodeName(name: string): string {
  if (!TOKEN.test(name)) throw new InvalidNodeNameError(`invalid node name ${JSON.stringify(name)}: use 1-64 of [A-Za-z0-9_-]`)
  return name
}

/** Where a node lives: `--data-dir`, else `$BARAN_HOME/<node>`. The node name defaults to the dir's name. */
export function resolveNode(opts: { dataDir?: string; node?: string }, env: NodeJS.ProcessEnv = process.env): { dataDir: string; node: string } {
  if (opts.dataDir) {
    const dataDir = resolve(opts.dataDir)
    const node = opts.node ?? (basename(dataDir).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || DEFAULT_NODE)
    return { dataDir, node: assertNodeName(node) }
  }
  const node = assertNodeName(opts.node ?? env.BARAN_NODE ?? DEFAULT_NODE)
  return { dataDir: join(baranHome(env), node), node }
}

/** The files of a node's data directory. */
export function nodePaths(dataDir: string) {
  const bus = join(dataDir, 'bus')
  return {
    dataDir,
    config: join(dataDir, 'config.json'),
    nodeInfo: join(dataDir, 'node.json'),
    bus,
    natsConf: join(bus, 'nats.conf'),
    users: join(bus, 'users.json'),
    creds: (user: string) => join(bus, 'creds', `${user}.json`),
    credsDir: join(bus, 'creds'),
    jetstream: join(bus, 'jetstream'),
    logs: join(dataDir, 'logs'),
    log: (name: string) => join(dataDir, 'logs', `${name}.log`),
  }
}
export type NodePaths = ReturnType<typeof nodePaths>
