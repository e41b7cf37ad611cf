/**
 * Subject names. Requests: `baran.<node>.<actor>.<verb>`; events: `baran.<node>.<actor>.evt.<event>`.
 * Tokens are restricted so that no user-supplied value can inject a wildcard or an extra token.
 */
export const SUBJECT_ROOT = 'baran'
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/

/** Thrown when a node, actor, verb or event name is not a valid subject token. */
export class InvalidSubjectTokenError extends Error {
  override name = 'InvalidSubjectTokenError'
  readonly code = 'invalid_request'
  constructor(what: string, value: string, options?: ErrorOptions) {
    super(`invalid ${what} ${JSON.stringify(value)}: use 1-64 of [A-Za-z0-9_-]`, options)
  }
}

export function assertToken(what: string, value: string): string {
  if (!TOKEN.test(value)) throw new InvalidSubjectTokenError(what, value)
  return value
}

export function requestSubject(node: string, actor: string, verb: string): string {
  return `${SUBJECT_ROOT}.${assertToken('node', node)}.${assertToken('actor', actor)}.${assertToken('verb', verb)}`
}

/** `node` may be `*` to listen to every node on the bus (simulations, dashboards). */
export function eventSubject(node: string | '*', actor: string | '*', event: string): string {
  const n = node === '*' ? '*' : assertToken('node', node)
  const a = actor === '*' ? '*' : assertToken('actor', actor)
  return `${SUBJECT_ROOT}.${n}.${a}.evt.${assertToken('event', event)}`
}

/** Every subject an actor serves or publishes lives under this prefix. */
export function actorPrefix(node: string, actor: string): string {
  return `${SUBJECT_ROOT}.${assertToken('node', node)}.${assertToken('actor', actor)}`
}

/** Splits a subject back into its parts (used by wildcard subscribers). */
export function parseSubject(subject: string): { node: string; actor: string; verb?: string; event?: string } | undefined {
  const parts = subject.split('.')
  if (parts[0] !== SUBJECT_ROOT || parts.length < 4) return undefined
  const [, node, actor, third, fourth] = parts as [string, string, string, string, string | undefined]
  if (third === 'evt' && fourth !== undefined && parts.length === 5) return { node, actor, event: fourth }
  if (parts.length === 4) return { node, actor, verb: third }
  return undefined
}
