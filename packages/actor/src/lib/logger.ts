import { pino, type Logger } from 'pino'

export type { Logger }

/** A pino JSON logger whose every line carries the node and the actor. */
export function createLogger(opts: { node: string; actor: string; level?: string; destination?: NodeJS.WritableStream | number }): Logger {
  const level = opts.level ?? process.env.BARAN_LOG_LEVEL ?? 'info'
  const dest = opts.destination ?? 1
  return pino(
    { level, base: { node: opts.node, actor: opts.actor, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    typeof dest === 'number' ? pino.destination({ fd: dest, sync: false }) : dest,
  )
}

/** A logger that drops everything (inline simulations of many nodes). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
