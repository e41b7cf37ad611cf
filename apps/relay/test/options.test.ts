import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  defaultDhtListen,
  MAX_DATA_LIMIT_BYTES,
  MAX_DURATION_LIMIT_MS,
  parseByteSize,
  parseDuration,
  parseInteger,
  parseListenAddr,
  parsePeerAddr,
  parsePort,
} from '../src/lib/options.ts'

const PEER = '12D3KooWLBdzDQfHPL2qsdm29f2UNJKknNqrY7TYLFnaVc2ZWLrd'
const invalid = { name: 'InvalidRelayOptionError', code: 'invalid_option' }

/** Runs fn and returns what it threw (or 'ok'). */
function outcome(fn: () => unknown): unknown {
  try {
    fn()
    return 'ok'
  } catch (e) {
    return e
  }
}

describe('parseByteSize', () => {
  it('reads plain bytes and binary units', () => {
    expect(parseByteSize('65536')).toBe(65_536)
    expect(parseByteSize('512KiB')).toBe(512 * 1024)
    expect(parseByteSize('64MiB')).toBe(64 * 1024 ** 2)
    expect(parseByteSize('1g')).toBe(1024 ** 3)
    expect(parseByteSize(' 2 m ')).toBe(2 * 1024 ** 2)
  })

  it('round-trips every size in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: MAX_DATA_LIMIT_BYTES }), (n) => {
        expect(parseByteSize(String(n))).toBe(n)
        if (n % 1024 === 0) expect(parseByteSize(`${n / 1024}KiB`)).toBe(n)
      }),
    )
  })

  it('refuses, with a typed error naming the option, anything else', () => {
    for (const bad of ['', 'lots', '-5', '1.5MiB', '10', '2TiB', '1023', '99999999999999999', 'MiB'] as unknown[]) {
      const e = outcome(() => parseByteSize(bad))
      expect(e, String(bad)).toMatchObject(invalid)
      expect((e as Error).message).toContain('--data-limit')
    }
    for (const bad of [undefined, null, 42, {}, []]) expect(outcome(() => parseByteSize(bad))).toMatchObject(invalid)
  })

  it('throws nothing but InvalidRelayOptionError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (v) => {
        const r = outcome(() => parseByteSize(v))
        if (r !== 'ok') expect(r).toMatchObject(invalid)
      }),
    )
  })
})

describe('parseDuration', () => {
  it('reads units and plain milliseconds', () => {
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('30m')).toBe(1_800_000)
    expect(parseDuration('2h')).toBe(7_200_000)
    expect(parseDuration('1d')).toBe(86_400_000)
    expect(parseDuration('1500')).toBe(1500)
    expect(parseDuration('1500ms')).toBe(1500)
  })

  it('round-trips every duration in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: MAX_DURATION_LIMIT_MS }), (ms) => {
        expect(parseDuration(`${ms}ms`)).toBe(ms)
      }),
    )
  })

  it('refuses out-of-range and malformed durations with a typed error', () => {
    for (const bad of ['', '10ms', '8d', 'soon', '5 minutes', '-1s', '1.5h']) {
      expect(outcome(() => parseDuration(bad)), bad).toMatchObject(invalid)
    }
    // Objects whose own toString throws or is not a function (found by fast-check): still the typed error.
    for (const odd of [{ toString: 0 }, { toString: () => { throw new Error('no') } }, Object.create(null), [1, 2]]) {
      expect(outcome(() => parseDuration(odd)), 'an odd object').toMatchObject(invalid)
    }
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (v) => {
        const r = outcome(() => parseDuration(v))
        if (r !== 'ok') expect(r).toMatchObject(invalid)
      }),
    )
  })
})

describe('parseInteger and parsePort', () => {
  it('accepts whole numbers in range, as strings or numbers', () => {
    expect(parseInteger('12', '--n', 1, 20)).toBe(12)
    expect(parseInteger(20, '--n', 1, 20)).toBe(20)
    expect(parsePort('0', '--port')).toBe(0)
    expect(parsePort('65535', '--port')).toBe(65_535)
  })

  it('refuses the rest', () => {
    for (const bad of ['0', '21', '1e3', '0x10', '', 'x', 3.5, Number.NaN, -1, null]) {
      expect(outcome(() => parseInteger(bad, '--n', 1, 20)), String(bad)).toMatchObject(invalid)
    }
    expect(outcome(() => parsePort('65536', '--port'))).toMatchObject(invalid)
    fc.assert(
      fc.property(fc.anything(), (v) => {
        const r = outcome(() => parsePort(v, '--port'))
        if (r !== 'ok') expect(r).toMatchObject(invalid)
        else expect(Number.isInteger(Number(v))).toBe(true)
      }),
    )
  })
})

describe('multiaddrs', () => {
  it('accepts TCP and WebSocket listen addresses, canonically', () => {
    expect(parseListenAddr('/ip4/127.0.0.1/tcp/0')).toBe('/ip4/127.0.0.1/tcp/0')
    expect(parseListenAddr('/ip4/0.0.0.0/tcp/4002/ws')).toBe('/ip4/0.0.0.0/tcp/4002/ws')
    expect(parseListenAddr('/ip6/::1/tcp/4001')).toBe('/ip6/::1/tcp/4001')
  })

  it('refuses what the relay cannot bind', () => {
    for (const bad of ['', 'localhost:4001', '/ip4/127.0.0.1', '/ip4/127.0.0.1/udp/1', '/dns4/example.org/tcp/1', '/ip4/1.2.3.4/tcp/1/p2p-circuit', '/ip4/999.1.1.1/tcp/1', 7]) {
      expect(outcome(() => parseListenAddr(bad)), String(bad)).toMatchObject(invalid)
    }
  })

  it('wants /p2p/<peerId> at the end of a bootstrap address', () => {
    expect(parsePeerAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`)).toBe(`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`)
    for (const bad of ['/ip4/127.0.0.1/tcp/4001', `/p2p/${PEER}/ip4/127.0.0.1/tcp/1`, '/ip4/127.0.0.1/tcp/1/p2p/notapeer', 'garbage']) {
      expect(outcome(() => parsePeerAddr(bad)), bad).toMatchObject(invalid)
    }
  })

  it('never throws anything else on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `/ip4/${s}`), fc.string().map((s) => `/ip4/127.0.0.1/tcp/${s}`)), (s) => {
        for (const fn of [parseListenAddr, parsePeerAddr]) {
          const r = outcome(() => fn(s))
          if (r !== 'ok') expect(r).toMatchObject(invalid)
        }
      }),
    )
  })

  it('puts the DHT on the next port of each plain TCP relay address (free ports stay free)', () => {
    expect(defaultDhtListen(['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'])).toEqual(['/ip4/127.0.0.1/tcp/0'])
    expect(defaultDhtListen(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4003/ws'])).toEqual(['/ip4/0.0.0.0/tcp/4002'])
    expect(defaultDhtListen(['/ip4/10.0.0.1/tcp/65535'])).toEqual(['/ip4/10.0.0.1/tcp/65534'])
    expect(defaultDhtListen(['/ip4/127.0.0.1/tcp/4001/ws'])).toEqual(['/ip4/127.0.0.1/tcp/0'])
  })
})
