import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { CliError, Exit } from './output.ts'

/**
 * A password from `--password-file`, else $BARAN_PASSWORD, else a hidden prompt on a terminal.
 * Never from a plain argument: it would show in `ps` and in shell history.
 */
export async function readPassword(opts: { passwordFile?: string; confirm?: boolean; purpose: string }): Promise<string> {
  if (opts.passwordFile) {
    const text = await readFile(opts.passwordFile, 'utf8').catch((e: unknown) => {
      throw new CliError(`cannot read the password file ${opts.passwordFile}: ${(e as Error).message}`, { exitCode: Exit.Usage })
    })
    const pw = text.replace(/\r?\n$/, '')
    if (!pw) throw new CliError(`the password file ${opts.passwordFile} is empty`, { exitCode: Exit.Usage })
    return pw
  }
  if (process.env.BARAN_PASSWORD) return process.env.BARAN_PASSWORD
  if (!process.stdin.isTTY) {
    throw new CliError(`a password is needed to ${opts.purpose}`, { exitCode: Exit.Usage, hint: 'pass --password-file <file> or set BARAN_PASSWORD' })
  }
  const pw = await prompt(`Password to ${opts.purpose}: `)
  if (!pw) throw new CliError('empty password', { exitCode: Exit.Usage })
  if (opts.confirm && (await prompt('Again: ')) !== pw) throw new CliError('the passwords differ', { exitCode: Exit.Usage })
  return pw
}

function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
    // Echo nothing of what is typed.
    const out = rl as unknown as { _writeToOutput: (s: string) => void }
    out._writeToOutput = (s: string) => {
      if (s.includes(question)) process.stdout.write(question)
    }
    rl.question(question, (answer) => {
      rl.close()
      process.stdout.write('\n')
      resolve(answer)
    })
  })
}
