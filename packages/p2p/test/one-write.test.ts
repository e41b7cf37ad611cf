import { describe, expect, it } from 'vitest'
import { noiseOneWrite, oneWritePerSend } from '../src/index.ts'

/** What libp2p passes: a Uint8ArrayList (its bufs, and subarray() joining them). */
class List {
  readonly bufs: Uint8Array[]
  constructor(...bufs: Uint8Array[]) {
    this.bufs = bufs
  }
  subarray(): Uint8Array {
    return Uint8Array.from(this.bufs.flatMap((b) => [...b]))
  }
}

describe('oneWritePerSend', () => {
  it('hands a multi-buffer list on as one buffer with the same bytes, and passes the rest as they are', () => {
    const sent: Array<Uint8Array | List> = []
    const conn = oneWritePerSend({ send: (d: Uint8Array | List) => sent.push(d) < 3 })
    const list = new List(Uint8Array.of(0, 3), Uint8Array.of(7, 8, 9))
    const single = new List(Uint8Array.of(5))
    const plain = Uint8Array.of(1, 2)
    expect(conn.send(list)).toBe(true)
    expect(conn.send(single)).toBe(true)
    expect(conn.send(plain)).toBe(false) // the connection's own backpressure answer
    expect(sent[0]).toBeInstanceOf(Uint8Array)
    expect([...(sent[0] as Uint8Array)]).toEqual([0, 3, 7, 8, 9])
    expect(sent[1]).toBe(single)
    expect(sent[2]).toBe(plain)
  })

  it('noiseOneWrite is noise under the same protocol name', () => {
    const components = { logger: { forComponent: () => Object.assign(() => {}, { error() {}, trace() {} }) } }
    const enc = noiseOneWrite()(components as never)
    expect(enc.protocol).toBe('/noise')
    expect(typeof enc.secureInbound).toBe('function')
    expect(typeof enc.secureOutbound).toBe('function')
  })
})
