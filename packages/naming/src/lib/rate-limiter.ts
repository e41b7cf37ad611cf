/**
 * Per-client token buckets: each client may spend `perMinute` requests (or `limit` per `windowMs`) in a burst,
 * refilled evenly over the window. The table is bounded: the least recently seen clients are forgotten.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { RATE_LIMIT_MAX_CLIENTS } from './constants.ts'

interface Bucket {
  tokens: number
  at: number
}

export class RateLimiter {
  readonly #capacity: number
  readonly #perMs: number
  readonly #maxClients: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()

  constructor(init: ({ perMinute: number } | { limit: number; windowMs: number }) & { maxClients?: number; now?: () => number }) {
    const [limit, windowMs] = 'perMinute' in init ? [init.perMinute, 60_000] : [init.limit, init.windowMs]
    if (!(limit > 0)) throw new RangeError('perMinute must be positive')
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive')
    this.#capacity = limit
    this.#perMs = limit / windowMs
    this.#maxClients = init.maxClients ?? RATE_LIMIT_MAX_CLIENTS
    this.#now = init.now ?? Date.now
  }

  /** Takes one token for `client`; returns 0 when allowed, else the milliseconds until the next token. */
  take(client: string): number {
    const now = this.#now()
    const b = this.#buckets.get(client) ?? { tokens: this.#capacity, at: now }
    this.#buckets.delete(client) // re-inserted below: most recently seen last
    b.tokens = Math.min(this.#capacity, b.tokens + (now - b.at) * this.#perMs)
    b.at = now
    let wait = 0
    if (b.tokens >= 1) b.tokens -= 1
    else wait = Math.ceil((1 - b.tokens) / this.#perMs)
    this.#buckets.set(client, b)
    if (this.#buckets.size > this.#maxClients) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    return wait
  }
}

/**
 * The client a request counts against: its IPv4 /24 or IPv6 /64, so that hopping between the addresses of one
 * network does not buy a fresh budget. IPv4-mapped IPv6 (`::ffff:a.b.c.d`, from a dual-stack socket) counts as IPv4.
 */
export function addressPrefix(address: string | undefined): string {
  if (!address) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  const v4 = mapped ? mapped[1]! : address
  if (isIPv4(v4)) return `${v4.split('.').slice(0, 3).join('.')}.0/24`
  if (!isIPv6(address)) return address
  return `${expandIPv6(address.split('%')[0]!).slice(0, 4).join(':')}::/64`
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head = '', tail] = address.split('::')
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'))
  let left = groupsOf(head)
  let right = tail === undefined ? [] : groupsOf(tail)
  // A trailing dotted quad (::ffff:1.2.3.4 forms other than the mapped one) holds two groups.
  const fixQuad = (groups: string[]) => {
    const last = groups.at(-1)
    if (!last || !isIPv4(last)) return groups
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number)
    return [...groups.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
  }
  left = fixQuad(left)
  right = fixQuad(right)
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0')
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16))
}
