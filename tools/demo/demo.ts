/**
 * `npm run demo`: the whole of Baran on one machine, with real node processes and the `baran` CLI as a user
 * types it. Alice and Bob start nodes (the first starts the local network) and get accounts; they register
 * names; Bob goes offline, Alice writes to `bob`, Bob comes back and receives it (timed from his presence
 * publish); Bob links a second device by PIN, Alice's next message reaches both, Bob revokes a device; Alice
 * restores her archive on a fresh node; and, where network namespaces can be made, two hosts behind separate
 * NATs talk through `baran relay`. One line per step (✓/✗/skipped and its time), a summary table at the end,
 * exit code 1 if any step failed. Every process and the temp BARAN_HOME are removed at the end, also on a
 * failure or Ctrl-C.
 *
 *   node --conditions=@baran/source tools/demo/demo.ts [--home <empty dir>] [--keep] [--no-natlab] [--lab-tag <tag>]
 *     [--report <file.json>]
 * --home runs in that directory (emptied at the end) instead of a fresh temp dir; --keep leaves everything
 * there; --lab-tag names the NAT lab (so a caller can remove it if the demo is killed); --report writes the
 * steps and measurements as JSON.
 */
import { dieWithParent } from '@baran/launch'
import { ADDRESSES, canCreateNamespaces, createNatLab, LAB_PEER_SCRIPT, type LabHost, type NatLab, startLabHost, TRANSPORT_HOST_SCRIPT } from '@baran/natlab'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { paint, Skip, seconds, Steps } from './steps.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
// The `baran` executable a user runs (npm link puts it on PATH): the build while it is fresh, else the sources.
const BARAN = join(ROOT, 'apps/node/bin/baran')

const { values: args } = parseArgs({
  options: {
    home: { type: 'string' },
    keep: { type: 'boolean' },
    'no-natlab': { type: 'boolean' },
    report: { type: 'string' },
    'lab-tag': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (args.help) {
  process.stdout.write('usage: npm run demo [-- --home <empty dir>] [--keep] [--no-natlab] [--lab-tag <tag>] [--report <file.json>]\n')
  process.exit(0)
}


// ---------------------------------------------------------------------------------------------------------
// Processes: every node, relay and lab is tracked here and ended by cleanup(), whatever happens.

const ownHome = !args.home
const HOME = args.home ? resolve(args.home) : await mkdtemp(join(tmpdir(), 'baran-demo-'))
await mkdir(HOME, { recursive: true, mode: 0o700 })
const ENV: NodeJS.ProcessEnv = { ...process.env, BARAN_HOME: HOME, NO_COLOR: '1' }
for (const k of Object.keys(ENV)) if (k.startsWith('BARAN_') && k !== 'BARAN_HOME') delete ENV[k]

interface NodeProc {
  name: string
  dataDir: string
  child: ChildProcess
  lines: string[]
  exited: Promise<number | null>
}
const nodes = new Map<string, NodeProc>()
let lab: NatLab | undefined

/** `baran start` for one node, in its own process group (Ctrl-C reaches only the demo, which stops it cleanly). */
function startNode(name: string, extra: string[] = []): NodeProc {
  if (cleaning) throw new Error('stopping: no new node')
  const dataDir = join(HOME, name)
  // SIGTERM if the demo itself dies, even by SIGKILL: no node outlives it.
  const [cmd, cmdArgs] = dieWithParent(BARAN, ['start', '--data-dir', dataDir, ...extra])
  const child = spawn(cmd, cmdArgs, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const lines: string[] = []
  const collect = (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean))
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  const n = { name, dataDir, child, lines, exited }
  nodes.set(name, n)
  return n
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null

/** Waits for the node's "is up" line (after --create-account, if given). */
async function waitUp(n: NodeProc, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!n.lines.some((l) => / is up/.test(l))) {
    if (!alive(n.child)) throw new Error(`node ${n.name} exited: ${n.lines.slice(-5).join(' | ')}`)
    if (Date.now() > deadline) throw new Error(`node ${n.name} not up within ${seconds(timeoutMs)}`)
    await sleep(100)
  }
}

async function stopProcess(c: ChildProcess, exited: Promise<unknown>, graceMs = 20_000): Promise<void> {
  if (!alive(c)) return
  c.kill('SIGTERM')
  const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])
  if (!done && alive(c)) {
    c.kill('SIGKILL')
    await exited
  }
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** One `baran …` command, as a user types it (bounded). */
function baran(cliArgs: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(BARAN, cliArgs, { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      done({ code, stdout, stderr })
    })
  })
}

/** The command's stdout, or an error that says what went wrong (its last stderr lines). */
async function must(cliArgs: string[], timeoutMs?: number): Promise<string> {
  const r = await baran(cliArgs, timeoutMs)
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-2).join(' | ')
    throw new Error(`baran ${cliArgs.slice(0, 2).join(' ')} exited ${r.code ?? 'on timeout'}: ${why}`)
  }
  return r.stdout
}
const mustJson = async <T>(cliArgs: string[], timeoutMs?: number): Promise<T> => JSON.parse(await must([...cliArgs, '--json'], timeoutMs)) as T

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`${what}: not within ${seconds(timeoutMs)}`)
    await sleep(intervalMs)
  }
}

let cleaning: Promise<void> | undefined
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const stops: Array<Promise<void>> = []
    // Nodes that joined first, the owner of the local network (it stops the chain) last.
    const owner = await readFile(join(HOME, 'localnet.json'), 'utf8')
      .then((t) => (JSON.parse(t) as { owner: { node: string }; chain: { pid: number } }))
      .catch(() => undefined)
    for (const n of nodes.values()) if (n.name !== owner?.owner.node) stops.push(stopProcess(n.child, n.exited))
    await Promise.all(stops)
    const own = owner ? nodes.get(owner.owner.node) : undefined
    if (own) await stopProcess(own.child, own.exited)
    // The chain stops with its owner; if it outlived it, end it (only if that pid is still our chain).
    const chainCmd = owner?.chain.pid ? await readFile(`/proc/${owner.chain.pid}/cmdline`, 'utf8').catch(() => '') : ''
    if (owner && chainCmd.includes('anvil') && chainCmd.includes(HOME)) process.kill(owner.chain.pid, 'SIGKILL')
    await lab?.teardown().catch((e: unknown) => process.stderr.write(`natlab teardown: ${(e as Error).message}\n`))
    if (!args.keep && ownHome) await rm(HOME, { recursive: true, force: true })
    else if (!args.keep) for (const f of await readdir(HOME).catch(() => [])) await rm(join(HOME, f), { recursive: true, force: true })
  })()
  return cleaning
}

let interrupted = false
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    interrupted = true
    process.stdout.write(`\n${sig}: stopping every node${args.keep ? '' : ` and removing ${HOME}`}…\n`)
    void cleanup().finally(() => process.exit(130))
  })
}
for (const evt of ['uncaughtException', 'unhandledRejection'] as const) {
  process.once(evt, (e: unknown) => {
    interrupted = true
    process.stderr.write(`\ndemo crashed: ${(e as Error)?.stack ?? String(e)}\n`)
    void cleanup().finally(() => process.exit(1))
  })
}

// ---------------------------------------------------------------------------------------------------------
// Steps: one line each, with its time; a step whose prerequisite did not pass is skipped (steps.ts).

const steps = new Steps(() => interrupted)
const step: Steps['run'] = (key, name, needs, fn) => steps.run(key, name, needs, fn)

// ---------------------------------------------------------------------------------------------------------
// The scenario.

type Account = { accountId: string; deviceId: string; deviceName: string; devices: Array<{ deviceId: string }>; revoked: string[] }
const state: {
  alice?: Account
  bob?: Account
  bob2?: Account
  offlineId?: string
  secondDevice?: 'pin' | 'archive'
  measured: Record<string, number>
} = { measured: {} }
const short = (id: string) => `${id.slice(0, 8)}…`
const dir = (name: string) => join(HOME, name)

process.stdout.write(`${paint('bold', 'Baran demo')}: real node processes on one machine, BARAN_HOME=${HOME}\n\n`)
const t0 = Date.now()

await step('start', 'Alice and Bob start nodes (Alice starts the local network)', [], async () => {
  const alice = startNode('alice', ['--create-account'])
  // Alice owns the local network once localnet.json names her: then Bob joins it.
  await until('localnet.json', async () => ((JSON.parse(await readFile(join(HOME, 'localnet.json'), 'utf8')) as { owner: { node: string } }).owner.node === 'alice' ? true : undefined), 60_000, 100)
  const bob = startNode('bob', ['--create-account'])
  await Promise.all([waitUp(alice), waitUp(bob)])
  const net = JSON.parse(await readFile(join(HOME, 'localnet.json'), 'utf8')) as { chain: { rpcUrl: string }; bootstrap: string[]; relays: string[] }
  return `local network: chain ${net.chain.rpcUrl}, Alice's node is its DHT bootstrap and relay`
})

await step('accounts', 'each gets an account on first start (--create-account)', ['start'], async () => {
  state.alice = await mustJson<Account>(['account', 'show', '--data-dir', dir('alice')])
  state.bob = await mustJson<Account>(['account', 'show', '--data-dir', dir('bob')])
  return `alice ${short(state.alice.accountId)}, bob ${short(state.bob.accountId)}`
})

await step('register', 'they register the names alice and bob', ['accounts'], async () => {
  await Promise.all([must(['register', 'alice', '--data-dir', dir('alice')]), must(['register', 'bob', '--data-dir', dir('bob')])])
  const found = await mustJson<{ accountId: string }>(['lookup', 'bob', '--data-dir', dir('alice')])
  if (found.accountId !== state.bob?.accountId) throw new Error(`lookup bob gave ${found.accountId}`)
  return 'Alice’s node resolves bob to Bob’s account ID, verified against his key'
})

await step('bob-stop', 'Bob’s node stops', ['accounts'], async () => {
  await must(['stop', '--data-dir', dir('bob')])
  const bob = nodes.get('bob')
  if (bob) await bob.exited
  return ''
})

await step('send-offline', 'Alice sends to bob while he is offline', ['register', 'bob-stop'], async () => {
  state.offlineId = (await must(['send', 'bob', 'Hi Bob, this waited for you', '--data-dir', dir('alice')])).trim().split('\n').at(-1)
  const pending = await mustJson<{ messages: Array<{ id: string; devices: Array<{ state: string }> }> }>(['outbox', '--data-dir', dir('alice')])
  const m = pending.messages.find((x) => x.id === state.offlineId)
  if (!m) throw new Error('the message is not in Alice’s outbox')
  return `message ${state.offlineId} waits in Alice’s outbox (${m.devices.map((d) => d.state).join(', ') || 'resolving devices'})`
})

let bobRestartAt = 0
await step('bob-start', 'Bob’s node starts again', ['bob-stop'], async () => {
  bobRestartAt = Date.now()
  await waitUp(startNode('bob'))
  return ''
})

await step('bob-receives', 'Bob receives it', ['send-offline', 'bob-start'], async () => {
  const got = await until(
    'the message in Bob’s inbox',
    async () => (await mustJson<Array<{ id: string; body: string; receivedAt: number }>>(['inbox', '--data-dir', dir('bob')])).find((m) => m.id === state.offlineId),
    60_000,
  )
  // Bob's presence publish after his restart: the discovery actor's log line.
  const log = await readFile(join(dir('bob'), 'logs', 'discovery.log'), 'utf8')
  const publishedAt = log
    .split('\n')
    .filter((l) => l.includes('"msg":"presence published"'))
    .map((l) => /"time":"([^"]+)"/.exec(l)?.[1])
    .map((t) => (t ? Date.parse(t) : Number.NaN))
    .find((t) => t >= bobRestartAt)
  state.measured.fromStartMs = got.receivedAt - bobRestartAt
  if (publishedAt === undefined) return `“${got.body}” ${seconds(state.measured.fromStartMs)} after Bob’s node started`
  state.measured.fromPresenceMs = got.receivedAt - publishedAt
  const d = state.measured.fromPresenceMs
  const rel = d >= 0 ? `${d} ms after his presence publish` : `${-d} ms before his presence publish (a retry found his relay address)`
  return `“${got.body}” ${rel}, ${seconds(state.measured.fromStartMs)} after his node started`
})

await step('bob2-start', 'two fresh nodes start, no accounts: bob2 and alice2', ['start'], async () => {
  // bob2 becomes Bob's second device; alice2 is where Alice restores her archive later
  await Promise.all([waitUp(startNode('bob2')), waitUp(startNode('alice2'))])
  return ''
})

const linkHelp = await baran(['devices', 'link', '--help'])
const canLink = linkHelp.code === 0 && linkHelp.stdout.includes('--pin')

await step('link', 'Bob links bob2 by PIN', ['bob-start', 'bob2-start'], async () => {
  if (!canLink) return new Skip('not available yet (no `baran devices link` in this build)')
  const offer = await must(['devices', 'link', '--json', '--data-dir', dir('bob')])
  let pin: string | undefined
  try {
    pin = (JSON.parse(offer) as { pin?: string }).pin
  } catch {
    pin = undefined
  }
  pin ??= /\b[A-Z2-9]{4}-[A-Z2-9]{4}\b/.exec(offer)?.[0]
  if (!pin) throw new Error(`no PIN in: ${offer.trim().slice(0, 200)}`)
  await must(['devices', 'link', '--pin', pin, '--device-name', 'bob-phone', '--data-dir', dir('bob2')], 120_000)
  state.bob2 = await mustJson<Account>(['account', 'show', '--data-dir', dir('bob2')])
  if (state.bob2.accountId !== state.bob?.accountId) throw new Error(`bob2 holds ${state.bob2.accountId}, not Bob’s account`)
  state.secondDevice = 'pin'
  return `PIN ${pin}: bob2 is device ${short(state.bob2.deviceId)} of Bob’s account`
})

if (!canLink) {
  await step('archive-device', 'instead: bob2 imports Bob’s archive', ['bob-start', 'bob2-start'], async () => {
    const file = join(HOME, 'bob.baran')
    await must(['account', 'export', file, '--password-file', await passwordFile(), '--data-dir', dir('bob')])
    state.bob2 = await mustJson<Account>(['account', 'import', file, '--password-file', await passwordFile(), '--device-name', 'bob-phone', '--data-dir', dir('bob2')])
    state.secondDevice = 'archive'
    return `bob2 is device ${short(state.bob2.deviceId)} of Bob’s account`
  })
}

async function passwordFile(): Promise<string> {
  const file = join(HOME, 'password')
  await writeFile(file, 'correct horse battery staple\n', { mode: 0o600 })
  return file
}

await step('send-both', 'Alice sends again: both devices receive it', [state.secondDevice === 'archive' ? 'archive-device' : 'link'], async () => {
  const id = (await must(['send', 'bob', 'Hello to both of your devices', '--data-dir', dir('alice')])).trim().split('\n').at(-1)
  const sentAt = Date.now()
  const inboxOf = async (name: string) => (await mustJson<Array<{ id: string }>>(['inbox', '--data-dir', dir(name)])).some((m) => m.id === id)
  const arrived: Record<string, number> = {}
  await until(
    'the message on both devices',
    async () => {
      for (const name of ['bob', 'bob2']) if (arrived[name] === undefined && (await inboxOf(name))) arrived[name] = Date.now() - sentAt
      return arrived.bob !== undefined && arrived.bob2 !== undefined ? true : undefined
    },
    60_000,
  )
  return `bob after ${seconds(arrived.bob ?? 0)}, bob2 after ${seconds(arrived.bob2 ?? 0)} (polled)`
})

await step('revoke', 'Bob revokes bob2', [state.secondDevice === 'archive' ? 'archive-device' : 'link'], async () => {
  const target = state.bob2?.deviceId ?? ''
  await must(['devices', 'revoke', target, '--data-dir', dir('bob')])
  const listed = await mustJson<{ revoked: string[] }>(['devices', 'list', '--data-dir', dir('bob')])
  if (!listed.revoked.includes(target)) throw new Error('bob2 is not listed as revoked on Bob’s node')
  return `${short(target)} is revoked: peers refuse its certificate from now on`
})

const archive = join(HOME, 'alice.baran')
await step('export', 'Alice exports her archive', ['accounts'], async () => {
  const r = await mustJson<{ bytes: number; accountId: string }>(['account', 'export', archive, '--password-file', await passwordFile(), '--data-dir', dir('alice')])
  return `${r.bytes} bytes`
})

await step('restore', 'alice2 restores it: same account ID', ['export', 'bob2-start'], async () => {
  const restored = await mustJson<Account>(['account', 'import', archive, '--password-file', await passwordFile(), '--data-dir', dir('alice2')])
  if (restored.accountId !== state.alice?.accountId) throw new Error(`restored ${restored.accountId}, expected ${state.alice?.accountId}`)
  return `account ${short(restored.accountId)} on a new device ${short(restored.deviceId)}`
})

await step('natlab', 'NAT lab: A → B through `baran relay`', [], async () => {
  if (args['no-natlab']) return new Skip('--no-natlab')
  const check = await canCreateNamespaces()
  if (!check.ok) return new Skip(check.reason)
  lab = await createNatLab(args['lab-tag'] ? { tag: args['lab-tag'] } : {})
  const relayListen = `/ip4/${ADDRESSES.relay}/tcp/4001`
  const relayDir = join(HOME, 'lab-relay')
  const relay = lab.run('relay', BARAN, ['relay', '--data-dir', relayDir, '--listen', relayListen, '--json'], {
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let relayOut = ''
  relay.stdout?.on('data', (d: Buffer) => {
    relayOut += d.toString()
  })
  relay.stderr?.on('data', (d: Buffer) => {
    relayOut += d.toString()
  })
  const ready = await until(
    '`baran relay` in the lab',
    async () => {
      if (!alive(relay)) throw new Error(`baran relay exited: ${relayOut}`)
      const line = relayOut.split('\n').find((l) => l.startsWith('{'))
      return line ? (JSON.parse(line) as { relay: string[] }) : undefined
    },
    60_000,
    100,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; relay output: ${relayOut.trim().slice(-300)}`)
  })
  const relayAddr = ready.relay.find((a) => a.startsWith(`/ip4/${ADDRESSES.relay}/tcp/4001/`))
  if (!relayAddr) throw new Error(`the relay did not listen on ${relayListen}: ${ready.relay.join(' ')}`)
  // B: behind NAT 2 with a reservation on the relay; A: behind NAT 1, sends on command.
  const b: LabHost = await startLabHost(lab, 'b', TRANSPORT_HOST_SCRIPT, ['--listen', `/ip4/${ADDRESSES.b}/tcp/4001`, '--relay', relayAddr], { readyTimeoutMs: 60_000 })
  const circuit = `${relayAddr}/p2p-circuit/p2p/${b.peerId}`
  await b.waitFor((e) => (e.event === 'ready' || e.event === 'addresses') && (e.addrs as string[]).includes(circuit), { timeoutMs: 30_000 })
  const a: LabHost = await startLabHost(lab, 'a', LAB_PEER_SCRIPT, ['--listen', `/ip4/${ADDRESSES.a}/tcp/4001`, '--relay', relayAddr], { readyTimeoutMs: 60_000 })
  a.command({ cmd: 'send', peerId: b.peerId, addrs: [circuit], count: 5, bytes: 1024 })
  await a.waitFor((e) => e.event === 'send-done', { timeoutMs: 60_000 })
  const sent = a.events.filter((e) => e.event === 'sent' || e.event === 'send-failed')
  const acked = sent.filter((e) => e.event === 'sent' && e.status === 'stored')
  if (acked.length !== 5) throw new Error(`only ${acked.length} of 5 acked: ${JSON.stringify(sent.at(-1))}`)
  // the first goes through the relay; the transports upgrade to a direct WebRTC connection meanwhile (STUN on the relay)
  const relayed = acked.filter((e) => e.connection === 'relayed')
  const rtts = relayed.map((e) => Number(e.rtt)).sort((x, y) => x - y)
  state.measured.labRelayedRttP50Ms = rtts[Math.floor(rtts.length / 2)] ?? Number.NaN
  await lab.teardown()
  lab = undefined
  return `5 messages acked, ${relayed.length} relayed then ${acked.length - relayed.length} direct (WebRTC upgrade), relayed RTT p50 ${state.measured.labRelayedRttP50Ms.toFixed(1)} ms`
})

// ---------------------------------------------------------------------------------------------------------
// Summary.

const total = Date.now() - t0
await cleanup()
if (!interrupted) {
  process.stdout.write(steps.table())
  const m = state.measured
  if (m.fromPresenceMs !== undefined || m.fromStartMs !== undefined) {
    process.stdout.write(
      `\n  offline delivery: ${m.fromPresenceMs !== undefined ? `${m.fromPresenceMs} ms from Bob’s presence publish to his inbox, ` : ''}${m.fromStartMs !== undefined ? `${seconds(m.fromStartMs)} from his node’s start` : ''}\n`,
    )
  }
  const failed = steps.records.filter((s) => s.result === 'failed').length
  const skipped = steps.records.filter((s) => s.result === 'skipped').length
  process.stdout.write(`\n${failed ? paint('red', `${failed} failed`) : paint('green', 'all steps passed')}${skipped ? `, ${skipped} skipped` : ''} in ${seconds(total)}\n`)
  if (args.report) await writeFile(args.report, `${JSON.stringify({ ok: failed === 0, totalMs: total, steps: steps.records, measured: m }, null, 2)}\n`)
  if (args.keep) process.stdout.write(`data kept in ${HOME}\n`)
  process.exit(failed ? 1 : 0)
}
