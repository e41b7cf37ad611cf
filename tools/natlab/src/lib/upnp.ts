/**
 * A real UPnP IGD on a lab router: Debian's miniupnpd (nftables build) run by the lab inside the
 * router's namespace, with its own config file, writing its mappings into the chains the router's
 * ruleset has for it (plan.ts UPNP_CHAINS). Only the LAN side listens (SSDP on 239.255.255.250:1900
 * and the SOAP control URL); secure mode lets a LAN host map ports to itself only.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { INSTALL_TIMEOUT_MS } from './constants.ts'
import { exec, succeeds } from './exec.ts'
import { LabTimeoutError, ToolsMissingError } from './errors.ts'
import type { NatLab } from './lab.ts'
import { UPNP_CHAINS } from './plan.ts'

export const MINIUPNPD = '/usr/sbin/miniupnpd'

/** The HTTP port of each lab router's IGD (SOAP control and device description). */
export const IGD_HTTP_PORT = 5000

/** How long miniupnpd may take to listen. */
const IGD_START_TIMEOUT_MS = 15_000

export interface IgdConfig {
  wan: string
  lan: string
  /** The LAN subnet allowed to map (CIDR). */
  lanNet: string
  table: string
  /** Where miniupnpd keeps its lease file. */
  dir: string
}

/** miniupnpd.conf for a lab router: UPnP IGD only (no NAT-PMP), secure mode, ports 1024+ for the LAN. */
export function miniupnpdConf(c: IgdConfig, uuid: string = randomUUID()): string {
  return [
    `ext_ifname=${c.wan}`,
    `listening_ip=${c.lan}`,
    `http_port=${IGD_HTTP_PORT}`,
    'enable_upnp=yes',
    'enable_natpmp=no',
    'secure_mode=yes',
    'system_uptime=no',
    'notify_interval=30',
    `uuid=${uuid}`,
    `lease_file=${join(c.dir, 'leases')}`,
    `upnp_table_name=${c.table}`,
    `upnp_nat_table_name=${c.table}`,
    `upnp_forward_chain=${UPNP_CHAINS.forward}`,
    `upnp_nat_chain=${UPNP_CHAINS.prerouting}`,
    `upnp_nat_postrouting_chain=${UPNP_CHAINS.postrouting}`,
    `allow 1024-65535 ${c.lanNet} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n')
}

/** Installs Debian's miniupnpd-nftables when miniupnpd is missing; throws ToolsMissingError when it cannot. */
export async function ensureMiniupnpd(): Promise<void> {
  if (await succeeds(MINIUPNPD, ['--version'])) return
  if (process.getuid?.() !== 0) throw new ToolsMissingError("miniupnpd missing: run 'apt-get install -y miniupnpd-nftables' as root")
  // the miniupnpd-nftables package alone: the `miniupnpd` one adds a service and debconf questions
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  try {
    await exec('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'miniupnpd-nftables'], { env, timeoutMs: INSTALL_TIMEOUT_MS })
  } catch {
    try {
      await exec('apt-get', ['update', '-qq'], { env, timeoutMs: INSTALL_TIMEOUT_MS })
      await exec('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'miniupnpd-nftables'], { env, timeoutMs: INSTALL_TIMEOUT_MS })
    } catch (err) {
      throw new ToolsMissingError('could not install miniupnpd-nftables with apt-get', { cause: err })
    }
  }
}

/** A running miniupnpd; `stop()` ends it by PID and removes its files. */
export interface LabIgd {
  readonly router: 'nat1' | 'nat2'
  readonly pid: number
  /** miniupnpd's log (it runs in the foreground with -d). */
  output(): string
  stop(): Promise<void>
}

/** Starts miniupnpd in `router`'s namespace and waits until its HTTP port listens on the LAN. */
export async function startIgd(lab: NatLab, router: 'nat1' | 'nat2'): Promise<LabIgd> {
  await ensureMiniupnpd()
  const dir = await mkdtemp(join(tmpdir(), `natlab-igd-${router}-`))
  const links = lab.names.links
  const lanNet = `${lab.addresses[router].lan.split('.').slice(0, 3).join('.')}.0/24`
  const conf = join(dir, 'miniupnpd.conf')
  await writeFile(conf, miniupnpdConf({ wan: router === 'nat1' ? links.nat1Wan : links.nat2Wan, lan: router === 'nat1' ? links.nat1Lan : links.nat2Lan, lanNet, table: lab.names.table, dir }))
  const child = lab.run(router, MINIUPNPD, ['-d', '-f', conf, '-P', join(dir, 'miniupnpd.pid')])
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 3_000)
        child.once('exit', () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill('SIGTERM')
      })
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + IGD_START_TIMEOUT_MS
  for (;;) {
    const { stdout } = await lab.exec(router, 'ss', ['-Hltn', `sport = :${IGD_HTTP_PORT}`]).catch(() => ({ stdout: '' }))
    if (stdout.trim() !== '') break
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new LabTimeoutError(`miniupnpd did not listen on ${router} within ${IGD_START_TIMEOUT_MS} ms: ${out.trim().slice(-2000)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return { router, pid: child.pid ?? -1, output: () => out, stop }
}
