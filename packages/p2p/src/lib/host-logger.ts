import type { ComponentLogger, Logger } from '@libp2p/interface'

const nothing = (): void => undefined

/** A logger that writes nothing, and whose scopes are itself. */
const SILENT: Logger = Object.assign((_formatter: unknown, ..._args: unknown[]) => undefined, {
  enabled: false,
  error: nothing,
  trace: nothing,
  newScope: (): Logger => SILENT,
})

/** The ComponentLogger of hostLogger when DEBUG is unset. */
export const SILENT_COMPONENT_LOGGER: ComponentLogger = { forComponent: () => SILENT }

/**
 * The logger a libp2p host gets. libp2p's default (@libp2p/logger, on the `debug` module) builds three debug
 * functions for every scope it opens (each yamux stream, each multistream-select negotiation, both sides), and each
 * asks the kernel whether stderr is a terminal: an ioctl per function, ~2.5 % of a simulated network's CPU (tools/sim,
 * 60 nodes on one thread, --cpu-prof). With DEBUG unset nothing can be printed, so a host gets a logger that does
 * nothing; with DEBUG set (`DEBUG=libp2p:dcutr* baran start`), libp2p's own (undefined: libp2p picks it).
 */
export function hostLogger(env: NodeJS.ProcessEnv = process.env): ComponentLogger | undefined {
  return env.DEBUG ? undefined : SILENT_COMPONENT_LOGGER
}
