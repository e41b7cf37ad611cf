/**
 * node:crypto when the runtime has it (Node ≥ 22: OpenSSL, synchronous), undefined in the browser bundle. Found
 * through process.getBuiltinModule so that bundlers never see an import of node:crypto.
 */
export type NodeCrypto = typeof import('node:crypto')
export type NodeKeyObject = import('node:crypto').KeyObject

export const nodeCrypto: NodeCrypto | undefined = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined

/** Bytes → base64url without copying. */
export function b64u(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url')
}

/** A bounded cache (oldest entry out first): building KeyObjects costs more than using them. */
export function boundedGet<V>(map: Map<string, V>, max: number, id: string, make: () => V): V {
  let v = map.get(id)
  if (v !== undefined) return v
  v = make()
  if (map.size >= max) map.delete(map.keys().next().value as string)
  map.set(id, v)
  return v
}
