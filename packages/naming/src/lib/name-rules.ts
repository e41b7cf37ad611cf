/**
 * The username rule, shared by the client, the name server and (in Solidity) the registry's
 * isValidName: 3–32 characters of [a-z0-9_-], lowercase only, no leading or trailing '-'.
 * Only ASCII is allowed, so characters and UTF-8 bytes count the same.
 */
export const NAME_RULES = {
  minLength: 3,
  maxLength: 32,
  /** Every allowed character. */
  alphabet: 'abcdefghijklmnopqrstuvwxyz0123456789_-',
  /** Characters that may not start or end a name. */
  notAtEdges: '-',
} as const

export type NameRuleViolation =
  | 'not_a_string'
  | 'too_short'
  | 'too_long'
  | 'invalid_character'
  | 'hyphen_at_edge'

export type NameValidation = { ok: true } | { ok: false; reason: NameRuleViolation }

const ALLOWED = new Set(NAME_RULES.alphabet)

/** Checks a candidate name against NAME_RULES; never throws. */
export function validateName(name: unknown): NameValidation {
  if (typeof name !== 'string') return { ok: false, reason: 'not_a_string' }
  // Test characters first so that a long unicode string reports the character, not the length.
  for (const c of name) if (!ALLOWED.has(c)) return { ok: false, reason: 'invalid_character' }
  if (name.length < NAME_RULES.minLength) return { ok: false, reason: 'too_short' }
  if (name.length > NAME_RULES.maxLength) return { ok: false, reason: 'too_long' }
  if (NAME_RULES.notAtEdges.includes(name[0]!) || NAME_RULES.notAtEdges.includes(name.at(-1)!)) {
    return { ok: false, reason: 'hyphen_at_edge' }
  }
  return { ok: true }
}

/** A sentence for a rule violation, for error messages and HTTP replies. */
export function describeNameViolation(reason: NameRuleViolation): string {
  switch (reason) {
    case 'not_a_string':
      return 'name must be a string'
    case 'too_short':
      return `name must have at least ${NAME_RULES.minLength} characters`
    case 'too_long':
      return `name must have at most ${NAME_RULES.maxLength} characters`
    case 'invalid_character':
      return 'name may contain only a-z, 0-9, _ and -'
    case 'hyphen_at_edge':
      return "name may not start or end with '-'"
  }
}
