import { defineConfig } from 'vitest/config'
import { FileDurations } from './tools/file-durations.ts'
import { LongestFirst } from './tools/test-order.ts'

/** `npm test` runs every package's tests in one vitest run (each package keeps its own vitest.config.ts). */
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tools/natlab', 'tools/sim', 'tools/boundaries', 'tools/bench'],
    // Test files start real servers and process trees: two at a time suits a 2-core machine.
    maxWorkers: 2,
    // Longest files first over all projects (tools/test-order.ts): the run ends sooner.
    sequence: { sequencer: LongestFirst },
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }], new FileDurations()],
  },
})
