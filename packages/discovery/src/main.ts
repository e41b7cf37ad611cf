import { runActor } from '@baran/actor'
import { discoveryActor } from './actor.ts'

await runActor(discoveryActor)
