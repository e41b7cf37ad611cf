import { type NatsServerProcess, startNatsServer } from '@baran/launch'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Bus, BusError, contract, declaresCode, errorCodeOf, onUndeclaredErrorCode } from '../src/index.ts'

/** A verb that declares two domain codes and, asked to, answers with a third it does not declare. */
const claim = contract({
  actor: 'names',
  verb: 'claim',
  request: z.object({ fail: z.enum(['name_taken', 'invalid_name', 'surprise']) }).strict(),
  reply: z.object({}),
  callers: ['cli'],
  description: 'fails with the code asked for',
  errors: ['name_taken', 'invalid_name'],
})
const plain = contract({ actor: 'names', verb: 'plain', request: z.object({}), reply: z.object({}), callers: ['cli'], description: 'declares no code' })

class CodedError extends Error {
  override name = 'CodedError'
  readonly code: string
  constructor(code: string) {
    super(`failed with ${code}`)
    this.code = code
  }
}

let dir: string
let server: NatsServerProcess
let bus: Bus

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baran-codes-'))
  server = await startNatsServer({ workDir: dir })
  bus = await Bus.connect({ servers: server.url, node: 'n1' })
  const svc = await bus.service({ name: 'names', version: '1.0.0' })
  svc.serve(claim, ({ fail }) => {
    throw new CodedError(fail)
  })
})

afterAll(async () => {
  await bus?.close()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('domain error codes in contracts', () => {
  it('each contract exports its codes as a zod enum; generic codes are declared by every verb', () => {
    expect(['name_taken', 'invalid_name', 'surprise'].map((c) => claim.errors.safeParse(c).success)).toEqual([true, true, false])
    expect(declaresCode(claim, 'invalid_name')).toBe(true)
    expect(declaresCode(claim, 'timeout')).toBe(true)
    expect(declaresCode(claim, 'surprise')).toBe(false)
    expect(declaresCode(plain, 'name_taken')).toBe(false)
    expect(plain.errors.safeParse('anything').success).toBe(false)
  })

  it('errorCodeOf gives a declared or generic code for a typed switch, undefined for anything else', () => {
    const describe = (e: unknown): string => {
      switch (errorCodeOf(e, claim)) {
        case 'name_taken':
          return 'taken'
        case 'invalid_name':
          return 'invalid'
        case 'timeout':
          return 'slow'
        default:
          return 'other'
      }
    }
    expect(describe(new BusError('name_taken'))).toBe('taken')
    expect(describe(new BusError('timeout'))).toBe('slow')
    expect(describe(new BusError('surprise'))).toBe('other')
    expect(describe(new Error('name_taken'))).toBe('other')
  })

  it('an undeclared code reaches the caller unchanged and is reported (by the serving end and by the asking end)', async () => {
    const seen: string[] = []
    const stop = onUndeclaredErrorCode(({ actor, verb, code }) => void seen.push(`${actor}.${verb}:${code}`))
    try {
      await expect(bus.request(claim, { fail: 'name_taken' })).rejects.toMatchObject({ code: 'name_taken' })
      expect(seen).toEqual([])
      await expect(bus.request(claim, { fail: 'surprise' })).rejects.toMatchObject({ name: 'BusError', code: 'surprise' })
      expect(seen).toEqual(['names.claim:surprise', 'names.claim:surprise'])
    } finally {
      stop()
    }
    await expect(bus.request(claim, { fail: 'surprise' })).rejects.toMatchObject({ code: 'surprise' })
    expect(seen).toHaveLength(2)
  })
})
