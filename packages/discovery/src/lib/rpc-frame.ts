import { concatBytes } from '@baran/trust'
import type { Stream } from '@libp2p/interface'
import { MAX_RPC_FRAME_BYTES } from './constants.ts'
import { MalformedFrameError } from './errors.ts'

/**
 * The rpc's frames (rpc.ts), on a stream or in a datagram (rpc-udp.ts). On a stream a frame is a
 * u32 big-endian length, then the body; a datagram carries one body. A body: u8 kind, u32 ID,
 * then for a request a u8 method and its payload; for a reply the payload; for an error UTF-8
 * `code\nmessage`; a ping and its pong (datagrams only: is the path open?) nothing more.
 */

export const REQUEST = 0
export const REPLY = 1
export const ERROR = 2
export const PING = 3
export const PONG = 4
export const HEADER = 5 // kind + id

const encoder = new TextEncoder()

/** u32 big-endian at `at` (no DataView: this runs for every frame). */
export function readU32(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
}

export function writeU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24
  b[at + 1] = n >>> 16
  b[at + 2] = n >>> 8
  b[at + 3] = n
}

/** One frame with its length prefix; `method` for a request (one buffer, one copy of the payload). */
export function frame(kind: number, id: number, payload: Uint8Array, method?: number): Uint8Array {
  const head = method === undefined ? HEADER : HEADER + 1
  const size = head + payload.length
  if (size > MAX_RPC_FRAME_BYTES) throw new MalformedFrameError(`rpc frame of ${size} bytes is over ${MAX_RPC_FRAME_BYTES}`)
  const out = new Uint8Array(4 + size)
  writeU32(out, 0, size)
  out[4] = kind
  writeU32(out, 5, id)
  if (method !== undefined) out[4 + HEADER] = method
  out.set(payload, 4 + head)
  return out
}

export function errorFrame(id: number, code: string, message: string): Uint8Array {
  return frame(ERROR, id, encoder.encode(`${code.slice(0, 64)}\n${message.slice(0, 512)}`))
}

/**
 * Splits a byte stream into frame bodies. Throws MalformedFrameError for a frame over the limit
 * or too short to hold a header, before buffering it.
 */
export class FrameReader {
  #buf: Uint8Array = new Uint8Array(0)

  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = this.#buf.length === 0 ? chunk : concatBytes(this.#buf, chunk)
    const bodies: Uint8Array[] = []
    while (this.#buf.length >= 4) {
      const size = readU32(this.#buf, 0)
      if (size > MAX_RPC_FRAME_BYTES) throw new MalformedFrameError(`rpc frame of ${size} bytes is over ${MAX_RPC_FRAME_BYTES}`)
      if (size < HEADER) throw new MalformedFrameError(`rpc frame of ${size} bytes is too short`)
      if (this.#buf.length < 4 + size) break
      bodies.push(this.#buf.subarray(4, 4 + size))
      this.#buf = this.#buf.subarray(4 + size)
    }
    return bodies
  }
}

function bytesOf(chunk: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return chunk instanceof Uint8Array ? chunk : chunk.subarray()
}

/**
 * Hand each chunk a stream receives to `onChunk` until the stream ends (resolves then). Listens
 * to the stream's events: its async iterator puts a queue and several promise hops in front of
 * every message. A chunk `onChunk` throws on aborts the stream (and is reported to `onError`).
 */
export function readChunks(stream: Stream, onChunk: (chunk: Uint8Array) => void, onError: (err: Error) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }): void => {
      try {
        onChunk(bytesOf(evt.data))
      } catch (err) {
        onError(err as Error)
        stream.abort(err instanceof Error ? err : new MalformedFrameError())
      }
    }
    const onEnd = (): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      resolve()
    }
    stream.addEventListener('message', onMessage)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onEnd)
    if (stream.status !== 'open') onEnd()
  })
}
