import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { installedVersion } from '@baran/testkit'
import fc from 'fast-check'
import { createLibp2p, type Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { NOISE_VERSION, NoiseFrameDecoder, noiseOneWrite, withFrameDecoder } from '../src/index.ts'

/** Noise's framing of `frames`: u16 big-endian length, then the bytes. */
function framed(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + 2 + f.length, 0))
  let at = 0
  for (const f of frames) {
    out[at] = f.length >>> 8
    out[at + 1] = f.length & 0xff
    out.set(f, at + 2)
    at += 2 + f.length
  }
  return out
}

/** `bytes` cut at the given points (sorted, deduplicated, within the length). */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const parts: Uint8Array[] = []
  let from = 0
  for (const p of [...at, bytes.length]) {
    parts.push(bytes.slice(from, p))
    from = p
  }
  return parts
}

const plain = (frames: Iterable<Uint8Array>): number[][] => [...frames].map((f) => [...f])

describe('NoiseFrameDecoder', () => {
  it('gives back every non-empty frame in order, whatever the chunk boundaries (property)', () => {
    const frame = fc.uint8Array({ maxLength: 600 })
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (frames, points, asLists) => {
        const d = new NoiseFrameDecoder()
        const got: number[][] = []
        for (const part of cut(framed(frames), points)) {
          // libp2p may pass a Uint8ArrayList: its bytes joined by subarray().
          const chunk = asLists ? { byteLength: part.length, subarray: () => part } : part
          got.push(...plain(d.decode(chunk)))
        }
        expect(got).toEqual(frames.filter((f) => f.length > 0).map((f) => [...f]))
        expect(d.buffered).toBe(0)
      }),
    )
  })

  it('reads a frame of the largest length noise can frame (65,535 bytes) that arrives in pieces', () => {
    const big = new Uint8Array(65_535).map((_, i) => i % 251)
    const d = new NoiseFrameDecoder()
    const got: number[][] = []
    for (const part of cut(framed([big, Uint8Array.of(1)]), [1, 2, 40_000, 65_537])) got.push(...plain(d.decode(part)))
    expect(got.length).toBe(2)
    expect(got[0]).toEqual([...big])
    expect(got[1]).toEqual([1])
  })

  it('never throws on a frame not yet complete: it holds the bytes until the rest comes', () => {
    const bytes = framed([Uint8Array.of(5, 6, 7)])
    for (let n = 0; n < bytes.length; n++) {
      const d = new NoiseFrameDecoder()
      expect(plain(d.decode(bytes.subarray(0, n)))).toEqual([])
      expect(d.buffered).toBe(n)
      expect(plain(d.decode(bytes.subarray(n)))).toEqual([[5, 6, 7]])
    }
  })

  it('keeps a copy of an incomplete frame: the chunk it came in may be reused', () => {
    const chunk = Buffer.from(framed([Uint8Array.of(1, 2), Uint8Array.of(3, 4, 5)]).subarray(0, 6))
    const d = new NoiseFrameDecoder()
    expect(plain(d.decode(chunk))).toEqual([[1, 2]])
    chunk.fill(0xee)
    expect(plain(d.decode(Uint8Array.of(3, 4, 5)))).toEqual([[3, 4, 5]])
  })

  it('refuses more buffered bytes than its limit with a RangeError that says so', () => {
    const d = new NoiseFrameDecoder(10)
    expect(plain(d.decode(Uint8Array.of(0, 20, 1, 2, 3)))).toEqual([])
    expect(() => plain(d.decode(new Uint8Array(6)))).toThrowError(/noise buffer limit exceeded: 11 of 10 bytes/)
  })
})

describe('withFrameDecoder', () => {
  it('the installed noise is the version whose connection field it replaces; another shape is refused', () => {
    const version = installedVersion('@chainsafe/libp2p-noise', import.meta.url)
    expect(version, `@chainsafe/libp2p-noise ${version} installed, noise-frames.ts was written for ${NOISE_VERSION}: re-check its connection's decoder`).toBe(NOISE_VERSION)
    expect(() => withFrameDecoder({})).toThrowError(expect.objectContaining({ name: 'NoiseInternalsChangedError', message: expect.stringContaining(NOISE_VERSION) }))
    expect(() => withFrameDecoder({ decoder: { decode: 1 } })).toThrowError(expect.objectContaining({ name: 'NoiseInternalsChangedError' }))
  })

  it('carries over the bytes the replaced decoder held', () => {
    const held = Uint8Array.of(0, 2, 9)
    const conn = withFrameDecoder({ decoder: { decode() {}, buffer: { byteLength: held.length, subarray: () => held } } as unknown })
    const d = conn.decoder as NoiseFrameDecoder
    expect(d).toBeInstanceOf(NoiseFrameDecoder)
    expect(d.buffered).toBe(3)
    expect(plain(d.decode(Uint8Array.of(8)))).toEqual([[9, 8]])
  })
})

describe('noiseOneWrite between two real hosts', () => {
  const hosts: Libp2p[] = []
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()))
  })
  const ECHO = '/baran-test/echo/1.0.0'

  /** noiseOneWrite, keeping every connection it secures. */
  function recording(secured: object[]): ReturnType<typeof noiseOneWrite> {
    const make = noiseOneWrite()
    return (components) => {
      const inner = make(components)
      const outer: typeof inner = Object.create(inner)
      outer.secureInbound = async (conn, options) => {
        const s = await inner.secureInbound(conn, options)
        secured.push(s.connection)
        return s
      }
      outer.secureOutbound = async (conn, options) => {
        const s = await inner.secureOutbound(conn, options)
        secured.push(s.connection)
        return s
      }
      return outer
    }
  }

  it('echoes many small messages and one larger than a noise frame byte for byte, over its own decoder', async () => {
    const secured: object[] = []
    const make = async () => {
      const h = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [recording(secured)], streamMuxers: [yamux()] })
      hosts.push(h)
      return h
    }
    const [a, b] = [await make(), await make()]
    await a.handle(ECHO, async (stream) => {
      for await (const chunk of stream) stream.send(chunk.subarray())
      await stream.close()
    })
    const stream = await b.dialProtocol(a.getMultiaddrs(), ECHO)
    const sent = [...Array.from({ length: 200 }, (_, i) => new Uint8Array(1 + (i % 90)).fill(i)), new Uint8Array(200_000).map((_, i) => i % 253)]
    const total = sent.reduce((n, m) => n + m.length, 0)
    const back: Uint8Array[] = []
    let received = 0
    const reading = (async () => {
      for await (const chunk of stream) {
        back.push(chunk.subarray())
        received += chunk.byteLength
        if (received >= total) break
      }
    })()
    for (const m of sent) stream.send(m)
    await reading
    const joined = Buffer.concat(back)
    expect(joined.equals(Buffer.concat(sent))).toBe(true)
    expect(secured.length).toBe(2) // both ends
    for (const c of secured) expect((c as { decoder: unknown }).decoder).toBeInstanceOf(NoiseFrameDecoder)
    await stream.close()
  })
})
