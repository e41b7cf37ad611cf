/**
 * A last-writer-wins register, for what one device of an account may overwrite (a contact, a block, a conversation's
 * name): the write with the later `at` wins; equal times go to the higher device ID, so every device picks the same
 * one. `value: null` is a deletion that still carries its time (a tombstone), so an older add cannot revive it.
 * `mergeLww` is commutative, associative and idempotent: devices that merge the same writes in any order agree.
 */
export interface LwwRegister<T> {
  value: T | null
  at: number
  device: string
}

/** Returns one of its arguments (the winner), never a copy. */
export function mergeLww<T>(a: LwwRegister<T> | undefined, b: LwwRegister<T> | undefined): LwwRegister<T> | undefined {
  if (!a) return b
  if (!b) return a
  if (a.at !== b.at) return a.at > b.at ? a : b
  return a.device >= b.device ? a : b
}
