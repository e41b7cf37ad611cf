/**
 * The process entry the supervisor spawns for every actor: it imports the implementation module named by
 * BARAN_ACTOR_MODULE (a package's or a user's file) and runs its exported `actor` definition.
 */
import { type ActorDefinition, ExitCode, runActor } from '@baran/actor'

const url = process.env.BARAN_ACTOR_MODULE
if (!url) {
  process.stderr.write('BARAN_ACTOR_MODULE is not set: this entry is started by the baran supervisor\n')
  process.exit(ExitCode.Config)
}
const mod = (await import(url)) as { actor?: ActorDefinition<unknown> }
if (!mod.actor) {
  process.stderr.write(`${url} does not export an actor definition named \`actor\`\n`)
  process.exit(ExitCode.Config)
}
await runActor(mod.actor)
