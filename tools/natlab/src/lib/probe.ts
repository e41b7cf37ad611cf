/**
 * Measures the NAT's mapping behaviour: a home host connects from one fixed local port to two
 * different public endpoints (two ports on the relay host), and each endpoint reports the source
 * address it saw. The same public ip:port for both means endpoint-independent mapping (what hole
 * punching needs); a different one means endpoint-dependent ("symmetric") mapping.
 */
import { stopChild } from '@baran/launch'
import { type LabNode, STOP_GRACE_MS } from './constants.ts'
import type { HostEvent } from './hosts.ts'
import { LabTimeoutError } from './errors.ts'
import type { NatLab } from './lab.ts'

export interface MappingProbe {
  /** The home host's socket. */
  internal: string
  /** The source each public endpoint saw, in order. */
  external: string[]
  mapping: 'endpoint-independent' | 'endpoint-dependent'
  /** Whether the router kept the internal port as the public port. */
  portPreserved: boolean
}

const ECHO_PORTS = [7001, 7002] as const
const PROBE_LOCAL_PORT = 40_123

// tells each client the address and port it came from
const echoServer = (relay: string) => `
const net = require('node:net')
let up = 0
for (const port of ${JSON.stringify(ECHO_PORTS)}) {
  net.createServer((s) => s.end(s.remoteAddress + ':' + s.remotePort + '\\n'))
    .listen(port, '${relay}', () => { if (++up === ${ECHO_PORTS.length}) console.log(JSON.stringify({ event: 'ready' })) })
}
`

const client = (relay: string, localAddress: string) => `
const net = require('node:net')
const ask = (port) => new Promise((resolve, reject) => {
  let text = ''
  const s = net.connect({ host: '${relay}', port, localAddress: '${localAddress}', localPort: ${PROBE_LOCAL_PORT} })
  s.setTimeout(5000, () => s.destroy(new Error('timeout')))
  s.on('data', (d) => { text += d })
  s.on('end', () => { s.end(); resolve(text.trim()) })
  s.on('error', reject)
})
;(async () => {
  const seen = []
  for (const port of ${JSON.stringify(ECHO_PORTS)}) seen.push(await ask(port))
  console.log(JSON.stringify({ event: 'seen', seen }))
})().catch((e) => { console.error(e.message); process.exit(1) })
`

function firstLine(child: ReturnType<NatLab['run']>, timeoutMs: number): Promise<HostEvent> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new LabTimeoutError(`NAT probe: no answer within ${timeoutMs} ms ${err}`)), timeoutMs)
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        resolve(JSON.parse(out.slice(0, nl)) as HostEvent)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (!out.includes('\n')) reject(new LabTimeoutError(`NAT probe process exited (${code}) without an answer: ${err.trim()}`))
    })
  })
}

/** Probes the mapping of the router in front of home host `a` or `b`. */
export async function probeMapping(lab: NatLab, home: Extract<LabNode, 'a' | 'b'> = 'a'): Promise<MappingProbe> {
  const server = lab.run('relay', process.execPath, ['-e', echoServer(lab.addresses.relay)])
  try {
    await firstLine(server, 10_000)
    const local = lab.addresses[home]
    const answer = await firstLine(lab.run(home, process.execPath, ['-e', client(lab.addresses.relay, local)]), 15_000)
    const external = (answer.seen as string[]).map((s) => s.replace(/^::ffff:/, ''))
    const internal = `${local}:${PROBE_LOCAL_PORT}`
    return {
      internal,
      external,
      mapping: new Set(external).size === 1 ? 'endpoint-independent' : 'endpoint-dependent',
      portPreserved: external.every((e) => e.endsWith(`:${PROBE_LOCAL_PORT}`)),
    }
  } finally {
    await stopChild(server, STOP_GRACE_MS)
  }
}
