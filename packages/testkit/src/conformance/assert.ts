import { type Bus, type BusError, onUndeclaredErrorCode, requestSubject } from '@baran/bus'
import { afterAll, beforeAll, expect } from 'vitest'

/** Thrown when an implementation under test breaks a conformance rule: the message starts with the rule. */
export class RuleViolation extends Error {
  override name = 'RuleViolation'
  readonly code = 'rule_violation'
  readonly rule: string
  constructor(rule: string, message?: string, options?: ErrorOptions) {
    super(`${rule}: ${message ?? 'violated'}`, options)
    this.rule = rule
  }
}

/** Awaits `work` and checks it failed with a bus error of `code`; a reply or another error breaks `rule`. */
export async function expectCode(work: Promise<unknown>, code: string, rule: string): Promise<BusError> {
  let reply: unknown
  try {
    reply = await work
  } catch (e) {
    const err = e as { name?: string; code?: unknown; message?: string }
    if (err.code !== code) {
      throw new RuleViolation(rule, `expected the error code ${code}, got ${String(err.code)} (${err.name}: ${err.message})`, { cause: e })
    }
    return e as BusError
  }
  throw new RuleViolation(rule, `expected the error code ${code}, got a reply: ${JSON.stringify(reply).slice(0, 300)}`)
}

/** Awaits `work` and returns its reply; an error breaks `rule`. */
export async function expectReply<T>(work: Promise<T>, rule: string): Promise<T> {
  try {
    return await work
  } catch (e) {
    const err = e as { name?: string; code?: unknown; message?: string }
    throw new RuleViolation(rule, `expected a reply, got ${String(err.code)} (${err.name}: ${err.message})`, { cause: e })
  }
}

/** Checks a value against an expected shape, with the rule in the failure message. */
export function expectShape(value: unknown, shape: object, rule: string): void {
  expect(value, rule).toMatchObject(shape)
}

/** Sends raw bytes to `baran.<node>.<actor>.<verb>` (bypassing the client's own validation) and returns the error code. */
export async function rawErrorCode(bus: Bus, node: string, actor: string, verb: string, body: string): Promise<string | undefined> {
  const reply = await bus.requestRaw(requestSubject(node, actor, verb), new TextEncoder().encode(body), { timeoutMs: 10_000 })
  return reply.error?.code
}

/**
 * The shared rule of every contract: malformed bodies (not JSON, wrong types, unknown keys) are refused with
 * invalid_request, never a crash or a hang, and the actor keeps serving.
 */
export async function checkMalformedBodies(bus: Bus, node: string, actor: string, verb: string, bodies: string[], rule: string): Promise<void> {
  for (const body of ['not json', '[1,2', ...bodies]) {
    const code = await rawErrorCode(bus, node, actor, verb, body).catch((e: Error) => `exception ${e.message}`)
    if (code !== 'invalid_request') {
      throw new RuleViolation(rule, `${actor}.${verb} answered ${body.slice(0, 80)} with ${code ?? 'a reply'}, not invalid_request`)
    }
  }
}

/**
 * The shared rule of error codes: every domain code an implementation answers with is one its verb's contract declares
 * (`contract.errors`), so callers can switch on typed codes. Call it inside a suite's `describe`: it records every
 * undeclared code answered to or by this process during the suite and fails the suite's end if there was one.
 */
export function checkDeclaredErrorCodes(suite: string): void {
  const seen: string[] = []
  let stop: (() => void) | undefined
  beforeAll(() => {
    stop = onUndeclaredErrorCode(({ actor, verb, code }) => void seen.push(`${actor}.${verb} answered ${code}`))
  })
  afterAll(() => {
    stop?.()
    const unique = [...new Set(seen)]
    if (unique.length > 0) throw new RuleViolation(`${suite}: every error code is declared by its contract`, unique.join('; '))
  })
}
