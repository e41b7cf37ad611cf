import { defineConfig } from 'vitest/config'

/**
 * The vitest settings every package shares: workspace packages resolve to their TypeScript
 * sources (the `@baran/source` export condition), and tests that start real servers get time.
 */
export const sharedConfig = defineConfig({
  resolve: { conditions: ['@baran/source'] },
  ssr: { resolve: { conditions: ['@baran/source'], externalConditions: ['@baran/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    passWithNoTests: true,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Test files start real servers and processes; two at a time fits a 2-core machine.
    maxWorkers: 2,
    // Nodes started by tests (`baran start`, default config) listen on every interface and would use mDNS and UPnP
    // (SSDP): off, so that no multicast leaves the machine and unrelated test nodes never meet. Tests of mDNS and UPnP
    // set them themselves (in network namespaces).
    env: { BARAN_DISCOVERY_MDNS: 'false', BARAN_TRANSPORT_UPNP: 'false' },
  },
})
