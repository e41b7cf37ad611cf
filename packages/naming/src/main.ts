import { runActor } from '@baran/actor'
import { namingActor } from './actor.ts'

await runActor(namingActor)
