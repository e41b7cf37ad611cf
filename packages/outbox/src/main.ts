import { runActor } from '@baran/actor'
import { actor } from './actor.ts'

await runActor(actor)
