import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { cpuMs } from '../src/index.ts'

describe('cpuMs (/proc)', () => {
  it("counts a process's CPU time as it runs, and 0 for a process that is gone", async () => {
    const before = await cpuMs(process.pid)
    // 30 ms of this process's own CPU (three ticks), however busy the machine is
    const start = process.cpuUsage()
    while (process.cpuUsage(start).user < 30_000) Math.sqrt(Math.random())
    expect(await cpuMs(process.pid)).toBeGreaterThan(before)
    const child = spawn('true')
    await once(child, 'exit')
    expect(await cpuMs(child.pid!)).toBe(0)
  })
})
