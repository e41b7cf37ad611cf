import { runActor } from '@baran/actor'
import { transportActor } from './actor.ts'

await runActor(transportActor)
