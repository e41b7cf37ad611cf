import { readFileSync } from 'node:fs'
import { isMainThread, parentPort } from 'node:worker_threads'
import { z } from 'zod'
import type { ActorDefinition } from './define.ts'
import { createLogger } from './logger.ts'
import { ActorRuntime } from './runtime.ts'

/**
 * How the supervisor tells an actor process where it lives. Credentials come in a 0600 file, not in the
 * environment, so they do not show up in `ps e` or crash reports.
 */
export const ActorEnvSchema = z.object({
  BARAN_NODE: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  BARAN_BUS_URL: z.string().min(1),
  BARAN_BUS_CREDS_FILE: z.string().optional(),
  BARAN_DATA_DIR: z.string().min(1),
  BARAN_ACTOR_CONFIG: z.string().optional(),
  BARAN_STOP_DEADLINE_MS: z.coerce.number().int().positive().optional(),
  /** Where the log lines go (default 1, stdout): an actor in a thread of a shared process gets a pipe of its own. */
  BARAN_LOG_FD: z.coerce.number().int().min(1).optional(),
})
export type ActorEnv = z.infer<typeof ActorEnvSchema>

/** Exit codes the supervisor understands: 78 (EX_CONFIG) is not retried. */
export const ExitCode = { Ok: 0, Crash: 1, Config: 78 } as const

const CredsSchema = z.object({ user: z.string().min(1), pass: z.string().min(1) })

/**
 * The process entry of an actor (`src/main.ts` of each actor package calls it): reads its environment,
 * runs the lifecycle, stops cleanly on SIGTERM/SIGINT within the deadline, and exits when its supervisor
 * goes away (so a killed node never leaves orphans). In a worker thread of a shared process it stops when the
 * host posts 'stop', and its exit ends the thread only.
 */
export async function runActor<Config>(def: ActorDefinition<Config>, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const parsedEnv = ActorEnvSchema.safeParse(env)
  if (!parsedEnv.success) {
    const issue = parsedEnv.error.issues[0]
    process.stderr.write(`${JSON.stringify({ level: 'fatal', actor: def.name, msg: `bad environment: ${issue?.path.join('.')}: ${issue?.message}` })}\n`)
    process.exit(ExitCode.Config)
  }
  const e = parsedEnv.data
  const log = createLogger({ node: e.BARAN_NODE, actor: def.name, ...(e.BARAN_LOG_FD ? { destination: e.BARAN_LOG_FD } : {}) })
  let creds: z.infer<typeof CredsSchema> | undefined
  let config: unknown = {}
  try {
    if (e.BARAN_BUS_CREDS_FILE) creds = CredsSchema.parse(JSON.parse(readFileSync(e.BARAN_BUS_CREDS_FILE, 'utf8')))
    if (e.BARAN_ACTOR_CONFIG) config = JSON.parse(e.BARAN_ACTOR_CONFIG)
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot read bus credentials or actor config')
    log.flush()
    process.exit(ExitCode.Config)
  }
  const deadline = e.BARAN_STOP_DEADLINE_MS ?? 5000
  let runtime: ActorRuntime<Config>
  try {
    runtime = new ActorRuntime(def, {
      node: e.BARAN_NODE,
      bus: { connect: { servers: e.BARAN_BUS_URL, ...(creds ? { user: creds.user, pass: creds.pass } : {}) } },
      config,
      dataDir: e.BARAN_DATA_DIR,
      log,
      stopDeadlineMs: deadline,
    })
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'invalid configuration')
    log.flush()
    process.exit(ExitCode.Config)
  }

  const exit = (code: number) => {
    log.flush()
    // Let pino's async destination write its last lines.
    setTimeout(() => process.exit(code), 20)
  }
  let stopping = false
  const shutdown = async (why: string) => {
    if (stopping) return
    stopping = true
    setTimeout(() => {
      log.error({ deadlineMs: deadline }, 'stop deadline passed, exiting anyway')
      exit(ExitCode.Crash)
    }, deadline + 3000).unref()
    try {
      await runtime.stop(why)
      await runtime.close()
      exit(ExitCode.Ok)
    } catch (err) {
      log.error({ err: (err as Error).message }, 'unclean stop')
      exit(ExitCode.Crash)
    }
  }
  if (isMainThread) {
    process.on('SIGTERM', () => void shutdown('SIGTERM'))
    process.on('SIGINT', () => void shutdown('SIGINT'))
    // Spawned with an IPC channel: when the supervisor dies, the channel closes and we leave too.
    process.on('disconnect', () => void shutdown('supervisor gone'))
  } else if (parentPort) {
    // A thread of a shared process (apps/node's actor host) gets no signals: the host asks it to stop.
    parentPort.on('message', (m: unknown) => {
      if (m === 'stop') void shutdown('stop requested by the host process')
    })
    parentPort.unref()
  }
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception')
    exit(ExitCode.Crash)
  })
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection')
    exit(ExitCode.Crash)
  })
  runtime.lifecycle.subscribe((s) => {
    if (s.value === 'failed' && !stopping) {
      log.fatal({ reason: s.context.reason }, 'actor failed')
      exit(ExitCode.Crash)
    }
  })
  try {
    await runtime.start(Number.POSITIVE_INFINITY)
  } catch (err) {
    if (!stopping) {
      log.fatal({ err: (err as Error).message }, 'start failed')
      exit(ExitCode.Crash)
    }
  }
}
