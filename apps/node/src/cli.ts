/**
 * The `baran` command line: runs a node (`start`) and talks to a running one over its bus as the `cli` user.
 */
import { Command, CommanderError, Option } from 'commander'
import { startCommand } from './cli/start.ts'
import { statusCommand } from './cli/status.ts'
import { stopCommand } from './cli/stop.ts'
import { CliError, Exit, paint } from './cli/output.ts'

const program = new Command('baran')
  .description('Baran: a fully distributed communication node')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)')

const nodeOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--data-dir <dir>', "the node's data directory (default: $BARAN_HOME/<node>)").env('BARAN_DATA_DIR'))
    .addOption(new Option('--node <name>', 'node name (default: the data dir name, or "default")'))

type Action = (opts: Record<string, unknown>) => Promise<number>
let exitCode: number = Exit.Ok
const run = (action: Action) => async (opts: Record<string, unknown>) => {
  exitCode = await action(opts)
}

nodeOptions(program.command('start').description('run the node in the foreground (Ctrl-C stops it)'))
  .option('--config <file>', 'config file (default: <data-dir>/config.json)')
  .option('-q, --quiet', 'print nothing but errors')
  .action(run((o) => startCommand(o)))

nodeOptions(program.command('status').description("show every actor's state, pid, uptime and restarts"))
  .option('--json', 'machine-readable output')
  .action(run((o) => statusCommand(o)))

nodeOptions(program.command('stop').description('stop a running node'))
  .option('--timeout <ms>', 'how long to wait', (v) => Number.parseInt(v, 10))
  .action(run((o) => stopCommand(o)))

try {
  await program.parseAsync(process.argv)
} catch (e) {
  if (e instanceof CommanderError) {
    exitCode = e.exitCode === 0 ? Exit.Ok : Exit.Usage
  } else if (e instanceof CliError) {
    process.stderr.write(`${paint('red', 'error:')} ${e.message}\n`)
    if (e.hint) process.stderr.write(`${paint('gray', 'hint:')} ${e.hint}\n`)
    exitCode = e.exitCode
  } else {
    const err = e as Error & { code?: string }
    process.stderr.write(`${paint('red', 'error:')} ${err.message}\n`)
    exitCode = err.code === 'invalid_config' ? Exit.Config : Exit.Error
  }
}
process.exitCode = exitCode
