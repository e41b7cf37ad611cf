import { createLogger } from '@baran/actor'
import { LogFile } from '../lib/log-file.ts'
import { ensureWritableDataDir } from './data-dir.ts'
import { type SupervisorEvent, Supervisor } from '../lib/supervisor.ts'
import { connectCli, selectNode, type NodeSelection } from './connect.ts'
import { identityCreate, identityStatus } from '@baran/bus'
import { CliError, Exit, paint, paintState } from './output.ts'
import type { openUi } from './ui.ts'

export interface StartOptions extends NodeSelection {
  config?: string
  quiet?: boolean
  /** First-run path (`npm start`): create an account when the node holds none. */
  createAccount?: boolean
  /** Also serve the web UI (on `uiPort`, else a free port). */
  ui?: boolean
  uiPort?: number
}

/** `baran start`: runs the node in the foreground with a live line per actor state change; Ctrl-C stops it. */
export async function startCommand(opts: StartOptions): Promise<number> {
  const { dataDir, node, paths } = selectNode(opts)
  await ensureWritableDataDir(dataDir, paths.logs)
  const log = createLogger({ node, actor: 'supervisor', destination: new LogFile(paths.log('node')) })
  const sup = new Supervisor({ dataDir, node, ...(opts.config ? { configFile: opts.config } : {}), log })
  const say = (line: string) => {
    if (!opts.quiet) process.stdout.write(`${line}\n`)
  }
  const seen = new Map<string, string>()
  sup.on((e: SupervisorEvent) => {
    if (e.type === 'state') say(`${paint('bold', 'node')} ${node}: ${e.state}`)
    else if (seen.get(e.name) !== `${e.status.state}/${e.status.pid}`) {
      seen.set(e.name, `${e.status.state}/${e.status.pid}`)
      const restarts = e.status.restarts ? paint('yellow', ` restarts ${e.status.restarts}`) : ''
      say(`  ${e.name.padEnd(10)} ${paintState(e.status.state).padEnd(10)} pid ${e.status.pid ?? '-'}${restarts}`)
    }
  })
  let signals = 0
  const onSignal = (sig: string) => {
    signals++
    if (signals > 1) {
      say('second signal: killing everything now')
      sup.killAll()
      process.exit(Exit.Error)
    }
    say(`${sig}: stopping (actors in reverse order, then the bus)…`)
    void sup.stop(sig)
  }
  process.on('SIGINT', () => onSignal('SIGINT'))
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('exit', () => sup.killAll())
  try {
    await sup.start()
  } catch (e) {
    await sup.stop('start failed').catch(() => undefined)
    const err = e as Error & { code?: string }
    throw new CliError(err.message, {
      exitCode: err.code === 'invalid_config' ? Exit.Config : err.code === 'already_running' ? Exit.Error : Exit.Error,
      hint: err.code === 'invalid_config' ? `fix ${opts.config ?? paths.config} (or the BARAN_* variable named above)` : `see the logs in ${paths.logs}`,
      cause: e,
    })
  }
  const down = Object.entries(sup.status().actors).filter(([, a]) => a.state !== 'ready' && a.state !== 'degraded')
  if (opts.createAccount && sup.children.has('identity') && !down.some(([name]) => name === 'identity')) await ensureAccount(sup, say)
  if (down.length > 0) {
    // Never "is up" while an actor could not start: say which, and why (its failed state, else its exit).
    for (const [name, a] of down) {
      const why = a.reason ?? (a.lastExit ? `exited with ${a.lastExit.signal ?? `code ${a.lastExit.code}`}` : 'no reason given')
      process.stderr.write(`${paint('red', '✗')} ${name} did not start (${a.state}): ${why}\n`)
    }
    process.stderr.write(`${paint('gray', 'hint:')} the node runs without it; see \`baran status --data-dir ${dataDir}\` and ${paths.logs}\n`)
  } else say(`${paint('green', '✓')} node ${paint('bold', node)} is up — bus ${sup.busUrl}, data ${dataDir}`)
  say(`  try: baran status --data-dir ${dataDir}    stop: Ctrl-C or baran stop --data-dir ${dataDir}`)
  let ui: Awaited<ReturnType<typeof openUi>> | undefined
  try {
    ui = opts.ui ? await (await import('./ui.ts')).openUi(dataDir, opts.uiPort) : undefined
  } catch (e) {
    await sup.stop('web UI failed').catch(() => undefined)
    throw new CliError(`the web UI cannot start: ${(e as Error).message}`, { exitCode: Exit.Error, hint: 'pick another --ui-port', cause: e })
  }
  const end = await sup.finished()
  await ui?.close()
  return end === 'stopped' ? Exit.Ok : Exit.Error
}

/** Creates an account when the node holds none, and says how to name and back it up. Asks nothing. */
async function ensureAccount(sup: Supervisor, say: (line: string) => void): Promise<void> {
  const { bus } = await connectCli({ dataDir: sup.paths.dataDir, node: sup.node })
  try {
    const status = await bus.request(identityStatus, {})
    if (status.account) {
      say(`  account ${status.account.accountId} (device ${status.account.deviceName})`)
      return
    }
    const a = await bus.request(identityCreate, {})
    say(`${paint('green', '✓')} created account ${paint('bold', a.accountId)} for this node (device ${a.deviceName})`)
    say('  set a username:      baran register <name>')
    say('  back it up:          baran account export <file>   (asks for a password; or --password-file)')
  } finally {
    await bus.close()
  }
}
