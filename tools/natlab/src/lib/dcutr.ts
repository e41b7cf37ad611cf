/**
 * Reads what DCUtR did between two lab hosts from their connection events and libp2p debug logs
 * (run them with `debug: DCUTR_DEBUG`). js-libp2p's DCUtR (@libp2p/dcutr 3.x): the peer that
 * received the relayed connection (B) first tries a direct dial to A's public addresses, then
 * sends CONNECT with its own addresses; A answers with its own and both dial. Each side drops the
 * other's addresses that are private (per @libp2p/utils' list) or relayed.
 */

/** The debug namespaces that show DCUtR and the observed addresses identify reports. */
export const DCUTR_DEBUG = 'libp2p:dcutr*,libp2p:identify*,libp2p:identify:trace'

export type DcutrResult =
  /** a direct connection replaced the relayed one */
  | 'upgraded'
  /** DCUtR ran but neither side had an address the other could dial */
  | 'no-dialable-addresses'
  /** DCUtR exchanged addresses and dialled, but the dials failed (the NATs dropped them) */
  | 'dial-failed'
  /** no DCUtR activity in the logs (not attempted, or logs not enabled) */
  | 'not-attempted'
  /** DCUtR failed in a way this reader does not know */
  | 'failed'
  /** still going */
  | 'pending'

export interface DcutrOutcome {
  result: DcutrResult
  /** One sentence: what happened and why. */
  reason: string
  /** NAT-mapped addresses each host was told it was seen at (identify), which libp2p then ignored or kept. */
  observed: { a: string[]; b: string[] }
  /** The DCUtR log lines of both hosts (timestamps and peer ids stripped), in order. */
  log: string[]
}

interface HostView {
  events: ReadonlyArray<{ event: string; [k: string]: unknown }>
  stderr: string
}

const dcutrLines = (stderr: string, side: string) =>
  stderr
    .split('\n')
    .filter((l) => l.includes('libp2p:dcutr'))
    .map((l) => `${side}: ${l.replace(/^\S+Z\s+/, '').replace(/12D3Koo\w+/g, '<peer>')}`)

const observedOf = (stderr: string) => [...new Set([...stderr.matchAll(/our observed address was (\S+)/g)].map((m) => m[1]!))]

/**
 * What DCUtR did between A (dialled B through the relay) and B. `retries` is DCUtR's attempt
 * count (3 in @libp2p/dcutr), used to tell a finished failure from one still in progress.
 */
export function diagnoseDcutr(a: HostView, b: HostView, retries = 3): DcutrOutcome {
  const log = [...dcutrLines(a.stderr, 'A'), ...dcutrLines(b.stderr, 'B')]
  const observed = { a: observedOf(a.stderr), b: observedOf(b.stderr) }
  const upgraded = [...a.events, ...b.events].find((e) => e.event === 'connection' && e.type === 'open' && e.kind === 'upgraded')
  const has = (re: RegExp) => log.some((l) => re.test(l))
  const out = (result: DcutrResult, reason: string): DcutrOutcome => ({ result, reason, observed, log })

  if (upgraded !== undefined || has(/DCUtR to .* succeeded|unilateral connection upgrade to .* succeeded/)) {
    return out('upgraded', `a direct connection replaced the relayed one (${String(upgraded?.remoteAddr ?? 'see log')})`)
  }
  const finished = has(new RegExp(`attempt ${retries} of ${retries}`))
  if (has(/had no dialable multiaddrs|did not have any dialable multiaddrs|connect message had no multiaddrs/)) {
    if (!finished) return out('pending', 'DCUtR is still retrying')
    return out(
      'no-dialable-addresses',
      'DCUtR ran, but every address either side could offer is private to libp2p (@libp2p/utils counts 10/8 and ' +
        'TEST-NET-2 198.51.100.0/24 as private) and identify drops observed TCP addresses (js-libp2p#2620: TCP dials ' +
        'do not reuse the listen port), so neither peer learned a public, dialable address and no hole punch was dialled',
    )
  }
  if (has(/error while attempting DCUtR/)) {
    if (!finished) return out('pending', 'DCUtR is still retrying')
    return has(/dial|ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|aborted/i)
      ? out('dial-failed', 'DCUtR exchanged addresses and both sides dialled, but no direct connection came up through the NATs')
      : out('failed', 'DCUtR failed for a reason not recognised here: see the log')
  }
  if (log.length === 0) return out('not-attempted', 'no DCUtR activity in the logs (were the hosts started with DCUTR_DEBUG?)')
  return out('pending', 'DCUtR started and has not finished')
}
