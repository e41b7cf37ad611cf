/**
 * Collects undo steps (stop a server, kill a process, remove a temp dir) and runs them in reverse order,
 * every one of them even when some fail: `afterEach(() => cleanup.run())` leaves nothing behind.
 */
export class Cleanup {
  #steps: Array<{ what: string; fn: () => unknown }> = []

  add(what: string, fn: () => unknown): void {
    this.#steps.push({ what, fn })
  }

  async run(): Promise<void> {
    const errors: unknown[] = []
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.fn()
      } catch (e) {
        errors.push(new Error(`cleanup "${step.what}" failed: ${(e as Error).message}`, { cause: e }))
      }
    }
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) throw new AggregateError(errors, 'several cleanup steps failed')
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run()
  }
}
