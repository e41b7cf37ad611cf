import {
  type AccountSummary,
  identityCreate,
  identityDevices,
  identityExportArchive,
  identityImportArchive,
  identityRevokeDevice,
  identityStatus,
  MAX_ARCHIVE_BYTES,
} from '@baran/bus'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { connectCli, explainingActor, type NodeSelection } from './connect.ts'
import { CliError, Exit, paint, printJson } from './output.ts'
import { readPassword } from './password.ts'

type Opts = NodeSelection & { json?: boolean; passwordFile?: string; deviceName?: string }

async function withBus<T>(opts: NodeSelection, fn: (bus: Awaited<ReturnType<typeof connectCli>>['bus']) => Promise<T>): Promise<T> {
  const { bus } = await connectCli(opts)
  try {
    return await explainingActor(bus, 'identity', () => fn(bus))
  } finally {
    await bus.close()
  }
}

function printAccount(a: AccountSummary, json: boolean | undefined): void {
  if (json) {
    printJson(a)
    return
  }
  process.stdout.write(`${paint('bold', 'account')} ${a.accountId}\n`)
  process.stdout.write(`  device   ${a.deviceId} (${a.deviceName})\n  ethereum ${a.ethAddress}\n`)
  process.stdout.write(`  devices  ${a.devices.length}${a.revoked.length ? `, ${a.revoked.length} revoked` : ''}\n`)
}

export async function accountCreate(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const a = await bus.request(identityCreate, opts.deviceName ? { deviceName: opts.deviceName } : {})
    printAccount(a, opts.json)
    if (!opts.json) process.stdout.write(`${paint('gray', 'next: baran register <name> to get a username; baran account export <file> to back it up')}\n`)
    return Exit.Ok
  })
}

export async function accountShow(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const s = await bus.request(identityStatus, {})
    if (!s.account) {
      if (opts.json) printJson({ hasAccount: false })
      else process.stderr.write('this node holds no account yet: run `baran account create`, `baran account import <file>` or `baran devices link --pin <PIN>`\n')
      return Exit.NotRunning
    }
    printAccount(s.account, opts.json)
    return Exit.Ok
  })
}

export async function accountExport(file: string, opts: Opts): Promise<number> {
  const password = await readPassword({ ...opts, confirm: true, purpose: 'encrypt the archive' })
  return withBus(opts, async (bus) => {
    if (!opts.json) process.stderr.write(paint('gray', 'deriving the archive key (memory-hard, ~0.5 s)…\n'))
    const r = await bus.request(identityExportArchive, { password }, { timeoutMs: 60_000 })
    await writeFile(file, Buffer.from(r.archive, 'base64'), { mode: 0o600 })
    if (opts.json) printJson({ file, accountId: r.accountId, bytes: r.bytes })
    else process.stdout.write(`archive of ${r.accountId} written to ${file} (${r.bytes} bytes); keep it and its password safe\n`)
    return Exit.Ok
  })
}

export async function accountImport(file: string, opts: Opts): Promise<number> {
  const size = await stat(file).then(
    (s) => s.size,
    (e: unknown) => {
      throw new CliError(`cannot read ${file}: ${(e as Error).message}`, { exitCode: Exit.Usage })
    },
  )
  // Checked before reading it: a huge file is not an archive, and the bus would refuse it with a vaguer error.
  if (size > MAX_ARCHIVE_BYTES) {
    throw new CliError(`archive too large: ${file} is ${size} bytes (limit ${MAX_ARCHIVE_BYTES})`, { exitCode: Exit.Usage, hint: 'is it the file `baran account export` wrote?' })
  }
  const bytes = await readFile(file).catch((e: unknown) => {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, { exitCode: Exit.Usage })
  })
  const password = await readPassword({ ...opts, purpose: 'decrypt the archive' })
  return withBus(opts, async (bus) => {
    if (!opts.json) process.stderr.write(paint('gray', 'deriving the archive key (memory-hard, ~0.5 s)…\n'))
    const a = await bus.request(
      identityImportArchive,
      { archive: bytes.toString('base64'), password, ...(opts.deviceName ? { deviceName: opts.deviceName } : {}) },
      { timeoutMs: 60_000 },
    )
    printAccount(a, opts.json)
    return Exit.Ok
  })
}

export async function devicesList(opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const d = await bus.request(identityDevices, {})
    if (opts.json) {
      printJson({ devices: d.devices, revoked: d.revoked })
      return Exit.Ok
    }
    for (const dev of d.devices) process.stdout.write(`  ${dev.deviceId}  ${dev.name}${dev.current ? paint('green', '  (this device)') : ''}\n`)
    for (const id of d.revoked) process.stdout.write(`  ${paint('red', id)}  revoked\n`)
    return Exit.Ok
  })
}

export async function devicesRevoke(deviceId: string, opts: Opts): Promise<number> {
  return withBus(opts, async (bus) => {
    const r = await bus.request(identityRevokeDevice, { deviceId })
    if (opts.json) printJson({ revoked: r.revoked, revocationsSeq: r.revocations.seq })
    else process.stdout.write(`device ${r.revoked} revoked (revocation list #${r.revocations.seq}); peers refuse it from now on\n`)
    return Exit.Ok
  })
}
