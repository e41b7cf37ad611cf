import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { utf8 } from '../src/lib/bytes.ts'
import { canonicalDecode, canonicalEncode, canonicalString } from '../src/lib/canonical.ts'
import { expectTrustError } from './fixtures.ts'

const text = (b: Uint8Array) => new TextDecoder().decode(b)

/** True if every number inside v is a safe integer other than -0. */
function integersOnly(v: unknown): boolean {
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0)
  if (Array.isArray(v)) return v.every(integersOnly)
  if (v !== null && typeof v === 'object') return Object.values(v).every(integersOnly)
  return true
}

const jsonInts = fc.jsonValue({ maxDepth: 6 }).filter(integersOnly)

/** Same value with every object's keys inserted in a shuffled order. */
function shuffled(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffled(x, rnd))
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v).sort(() => rnd() - 0.5)
    const out: Record<string, unknown> = {}
    for (const [k, x] of entries) Object.defineProperty(out, k, { value: shuffled(x, rnd), enumerable: true, writable: true, configurable: true })
    return out
  }
  return v
}

describe('canonicalEncode', () => {
  it('encodes known vectors: sorted keys, no whitespace, JSON.stringify escapes', () => {
    expect(text(canonicalEncode({ b: 1, a: [true, null, 'x'], c: {} }))).toBe('{"a":[true,null,"x"],"b":1,"c":{}}')
    expect(text(canonicalEncode('é"\\\n\u0001\u2028'))).toBe(JSON.stringify('é"\\\n\u0001\u2028'))
    expect(text(canonicalEncode(-42))).toBe('-42')
    expect(text(canonicalEncode(Number.MAX_SAFE_INTEGER))).toBe('9007199254740991')
    expect(text(canonicalEncode(Object.create(null)))).toBe('{}')
    // the string form is the same text
    for (const v of [{ b: 1, a: [true, null, 'x'], c: {} }, 'é"\\\n\u2028', { z: { y: [1, { x: 'ü' }] } }]) expect(canonicalString(v)).toBe(text(canonicalEncode(v)))
  })

  it('sorts keys by UTF-16 code units (not code points)', () => {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB01 in UTF-16 order.
    expect(text(canonicalEncode({ '\uFB01': 1, '\u{1F600}': 2, B: 3, a: 4, '10': 5, '9': 6 }))).toBe(
      '{"10":5,"9":6,"B":3,"a":4,"\u{1F600}":2,"\uFB01":1}',
    )
  })

  it('round trips arbitrary integer-only JSON values', () => {
    fc.assert(
      fc.property(jsonInts, (v) => {
        const bytes = canonicalEncode(v)
        expect(canonicalDecode(bytes)).toEqual(v)
        expect(canonicalEncode(canonicalDecode(bytes))).toEqual(bytes)
      }),
    )
  })

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(jsonInts, fc.integer(), (v, seed) => {
        let s = seed
        const rnd = () => {
          s = (s * 1103515245 + 12345) & 0x7fffffff
          return s / 0x7fffffff
        }
        expect(canonicalEncode(shuffled(v, rnd))).toEqual(canonicalEncode(v))
      }),
    )
  })

  it.each([
    ['a float', 1.5],
    ['-0', -0],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['undefined', undefined],
    ['a bigint', 1n],
    ['a Uint8Array', new Uint8Array([1])],
    ['a function', () => 1],
    ['a symbol', Symbol('x')],
    ['a Date', new Date(0)],
    ['a Map', new Map()],
    ['a class instance', new (class X {})()],
    ['an undefined property', { a: undefined }],
    ['a nested float', { a: [1, { b: 0.1 }] }],
    ['an array hole', new Array(3)],
    ['a symbol key', { [Symbol('k')]: 1 }],
  ])('rejects %s with MalformedRecordError', (_what, v) => {
    expectTrustError(() => canonicalEncode(v), 'MalformedRecordError', 'malformed')
  })

  it('accepts 32 levels of nesting and rejects 33', () => {
    const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)])
    expect(text(canonicalEncode(nest(32)))).toBe(`${'['.repeat(32)}0${']'.repeat(32)}`)
    expectTrustError(() => canonicalEncode(nest(33)), 'MalformedRecordError', 'malformed')
    const deepObject = (n: number): unknown => (n === 0 ? 0 : { a: deepObject(n - 1) })
    expectTrustError(() => canonicalEncode(deepObject(33)), 'MalformedRecordError', 'malformed')
    // A cycle is caught by the depth limit, not by a stack overflow.
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expectTrustError(() => canonicalEncode(cyclic), 'MalformedRecordError', 'malformed')
  })
})

describe('canonicalDecode', () => {
  it.each([
    ['whitespace', '{"a": 1}'],
    ['a trailing newline', '{"a":1}\n'],
    ['unsorted keys', '{"b":1,"a":2}'],
    ['duplicate keys', '{"a":1,"a":1}'],
    ['a float', '1.5'],
    ['an integer written as a float', '1.0'],
    ['an exponent', '1e2'],
    ['-0', '-0'],
    ['an unsafe integer', '9007199254740993'],
    ['a needless escape', '"\\u0041"'],
    ['an escaped slash', '"\\/"'],
    ['a leading zero', '01'],
    ['nothing', ''],
    ['not JSON', 'hello'],
    ['trailing garbage', '1 2'],
    ['a nesting of 33', `${'['.repeat(33)}${']'.repeat(33)}`],
  ])('rejects %s', (_what, s) => {
    expectTrustError(() => canonicalDecode(utf8(s)), 'MalformedRecordError', 'malformed')
  })

  it('rejects invalid UTF-8, a BOM and overlong encodings', () => {
    expectTrustError(() => canonicalDecode(new Uint8Array([0x22, 0xff, 0x22])), 'MalformedRecordError', 'malformed')
    expectTrustError(() => canonicalDecode(new Uint8Array([0xef, 0xbb, 0xbf, 0x31])), 'MalformedRecordError', 'malformed')
    expectTrustError(() => canonicalDecode(new Uint8Array([0x22, 0xc0, 0xaf, 0x22])), 'MalformedRecordError', 'malformed')
  })

  it('takes an escaped lone surrogate in its one canonical form (the text comparison sees what the bytes would)', () => {
    expect(canonicalDecode(utf8('"\\ud800"'))).toBe('\ud800')
    expect(canonicalEncode('\ud800')).toEqual(utf8('"\\ud800"'))
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(canonicalDecode(canonicalEncode({ s }))).toEqual({ s })
      }),
    )
  })

  it('rejects a non-Uint8Array', () => {
    expectTrustError(() => canonicalDecode('{}' as unknown as Uint8Array), 'MalformedRecordError', 'malformed')
  })

  it('accepts exactly the canonical bytes and nothing else (random byte strings)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        let v: unknown
        try {
          v = canonicalDecode(b)
        } catch (e) {
          expect((e as Error).name).toBe('MalformedRecordError')
          return
        }
        expect(canonicalEncode(v)).toEqual(b)
      }),
    )
  })

  it('keeps a "__proto__" key as data (no prototype change)', () => {
    const v = canonicalDecode(utf8('{"__proto__":{"x":1}}')) as Record<string, unknown>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.keys(v)).toEqual(['__proto__'])
  })
})
