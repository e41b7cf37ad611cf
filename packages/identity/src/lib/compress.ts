/** Brotli compression with a hard cap on the decompressed size (archives come from untrusted places). */
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib'
import { MAX_PAYLOAD_BYTES } from './constants.ts'
import { MalformedArchiveError } from './errors.ts'

/** Compresses with brotli (quality 11: payloads are small, export is rare). */
export function compress(data: Uint8Array): Uint8Array {
  const out = brotliCompressSync(data, {
    params: {
      [zlib.BROTLI_PARAM_QUALITY]: 11,
      [zlib.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
    },
  })
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Decompresses brotli; throws MalformedArchiveError on bad data or output over `maxBytes`. */
export function decompress(data: Uint8Array, maxBytes = MAX_PAYLOAD_BYTES): Uint8Array {
  try {
    const out = brotliDecompressSync(data, { maxOutputLength: maxBytes })
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  } catch (err) {
    throw new MalformedArchiveError('Payload does not decompress (bad brotli data or too large)', { cause: err })
  }
}
