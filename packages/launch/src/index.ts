/**
 * @baran/launch — the processes Baran runs as children: nats-server (started, awaited until it listens,
 * stopped) and the helpers that keep any child server (nats-server, anvil) from outliving its parent and stop it.
 */
export { NatsServerProcess, startNatsServer, exitsWithin, resolveNatsServer, NatsServerNotFoundError, NatsServerStartError } from './lib/server.ts'
export type { NatsServerOptions } from './lib/server.ts'
export { dieWithParent, killOnExit, stopChild } from './lib/children.ts'
