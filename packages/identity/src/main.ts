import { runActor } from '@baran/actor'
import { identityActor } from './actor.ts'

await runActor(identityActor)
