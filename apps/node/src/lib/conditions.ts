/**
 * The export-condition flags of this process (`--conditions=x`, `--conditions x`, `-C x`), for the node processes
 * it starts: they resolve packages the way it does (the TypeScript sources with `@baran/source`, else the build).
 */
export function conditionFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i] ?? ''
    if (a.startsWith('--conditions=') || a.startsWith('-C=')) out.push(a)
    else if ((a === '--conditions' || a === '-C') && i + 1 < execArgv.length) out.push(a, execArgv[++i] ?? '')
  }
  return out
}
