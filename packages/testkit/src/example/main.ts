import { runActor } from '@baran/actor'
import { echoActor } from './echo.ts'

await runActor(echoActor)
