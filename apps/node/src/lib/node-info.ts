import { readFile, rm, writeFile } from 'node:fs/promises'
import { z } from 'zod'
import type { NodePaths } from './paths.ts'

/** `<dataDir>/node.json`: how the CLI finds a running node. Holds no secret (credentials are in bus/creds). */
export const NodeInfoSchema = z.object({
  node: z.string(),
  pid: z.number().int(),
  busUrl: z.string(),
  embeddedBus: z.boolean(),
  busPid: z.number().int().nullable(),
  startedAt: z.number().int(),
  dataDir: z.string(),
})
export type NodeInfo = z.infer<typeof NodeInfoSchema>

export async function readNodeInfo(paths: NodePaths): Promise<NodeInfo | undefined> {
  try {
    const parsed = NodeInfoSchema.safeParse(JSON.parse(await readFile(paths.nodeInfo, 'utf8')))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The node described by node.json, if its supervisor is still alive (a stale file from a crash is ignored). */
export async function runningNode(paths: NodePaths): Promise<NodeInfo | undefined> {
  const info = await readNodeInfo(paths)
  return info && pidAlive(info.pid) ? info : undefined
}

export async function writeNodeInfo(paths: NodePaths, info: NodeInfo): Promise<void> {
  await writeFile(paths.nodeInfo, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 })
}

export async function removeNodeInfo(paths: NodePaths): Promise<void> {
  await rm(paths.nodeInfo, { force: true })
}
