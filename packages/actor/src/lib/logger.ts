import { pino, type Logger } from 'pino'

export type { Logger }

/** A pino JSON logger whose every line carries the node and the actor. */
export function createLogger(opts: { node: string; actor: string; level?: string; destination?: NodeJS.WritableStream | number }): Logger {
  const level = opts.level ?? process.env.BARAN_LOG_LEVEL ?? 'info'
  const given = opts.destination ?? 1
  const dest = typeof given === 'number' ? pino.destination({ fd: given, sync: false }) : given
  // A log that cannot be written (EPIPE, ENOSPC, EROFS) loses lines, not the process: without a listener, the
  // destination's `error` event would be an uncaught exception.
  dest.on('error', () => undefined)
  return pino({ level, base: { node: opts.node, actor: opts.actor, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}

/** A logger that drops everything (inline simulations of many nodes). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
