import { describe, expect, it } from 'vitest'
import { formatReport, InvalidScenarioError, runScenario } from '../src/index.ts'

describe('runScenario', () => {
  it('delivers every message once churned nodes come back (10 nodes, 20% churn, latency and loss)', async () => {
    const report = await runScenario({ nodes: 10, churn: 0.2, messages: 40, durationMs: 10_000, latencyMs: 5, lossRate: 0.05, seed: 3, drainMs: 40_000, lookups: 10 })
    // The outbox's whole promise: with churn and loss, everything accepted ends up in an inbox.
    expect(report.delivery.undelivered).toEqual([])
    expect(report.completed).toBe(true)
    expect(report.delivery.ratio).toBe(1)
    expect(report.delivery.accepted).toBeGreaterThan(30)
    expect(report.churn).toEqual({ nodes: 2, offline: 2, restarts: 2, kill: 'graceful', stayedOffline: 0 })
    // A sane report: latencies present and ordered, lookups answered, memory measured, the shaper did its work.
    const all = report.latencyMs.all
    expect(all.count).toBe(report.delivery.delivered)
    expect(all.p50 as number).toBeLessThanOrEqual(all.p99 as number)
    // The envelope waits one one-way delay (5 ms) before the inbox stores it; the ack delay comes after.
    expect(all.min as number).toBeGreaterThanOrEqual(5)
    expect(report.lookups.count + report.lookups.failed).toBeLessThanOrEqual(10)
    expect(report.lookups.count).toBeGreaterThan(0)
    expect(report.lookups.hops).toBeNull()
    expect(report.network.sends).toBeGreaterThanOrEqual(report.delivery.delivered)
    expect(report.memory.rssPerNodeBytes).toBeGreaterThan(0)
    expect(report.memory.natsServerRssBytes).toBeGreaterThan(0)
    // What the DHT cost, from each node's discovery (restarted ones too): a sender looks its recipient up (GETs)
    expect(report.dhtRpcs.sent.get).toBeGreaterThan(0)
    expect(report.dhtRpcs.perMessage as number).toBeGreaterThan(0)
    expect(report.dhtRpcs).toMatchObject({ uncountedNodes: 0, unreadHealths: 0 })
    const table = formatReport(report)
    expect(table).toMatch(/DHT rpcs {4}.*get \d+.* sent during run and drain \([\d.]+ per message\)/)
    expect(table).toContain('delivery    100.00 %')
    expect(table).toContain('COMPLETE')
  }, 90_000)

  it('spreads nodes over worker threads and still delivers everything (8 nodes, 2 threads, churn)', async () => {
    const report = await runScenario({ nodes: 8, churn: 0.25, messages: 24, durationMs: 8_000, latencyMs: 2, seed: 5, drainMs: 40_000, lookups: 5, threads: 2 })
    expect(report.threads).toBe(2)
    expect(report.delivery.undelivered).toEqual([])
    expect(report.completed).toBe(true)
    expect(report.delivery.accepted).toBeGreaterThan(15)
    expect(report.churn).toEqual({ nodes: 2, offline: 2, restarts: 2, kill: 'graceful', stayedOffline: 0 })
    // The shards' own counters reach the report: every delivered message went through a shard's shaper.
    expect(report.network.sends).toBeGreaterThanOrEqual(report.delivery.delivered)
    expect(report.lookups.count).toBeGreaterThan(0)
    expect(report.timingsMs.actorStart.outbox?.count).toBeGreaterThanOrEqual(8)
    // … and the DHT rpcs their nodes sent
    expect(report.dhtRpcs.sent.get).toBeGreaterThan(0)
    expect(report.dhtRpcs).toMatchObject({ uncountedNodes: 0, unreadHealths: 0 })
  }, 90_000)

  it('survives SIGKILLed nodes, a node gone for good, latency, loss and production back-off (8 nodes)', async () => {
    const report = await runScenario({
      nodes: 8,
      churn: 0.25,
      kill: 'sigkill',
      stayOffline: 0.125,
      backoff: 'production',
      messages: 24,
      durationMs: 8_000,
      latencyMs: 5,
      lossRate: 0.02,
      seed: 4,
      // Production back-off doubles from 1 s: tries 1, 3, 7, 15, 31, 63 s after the first (less with jitter), so a
      // message whose tries all fail while its recipient is down may next be tried after a 60 s drain ended: 120 s
      // covers it. The drain ends as soon as everything arrived, so a passing run does not wait for it.
      // (Seed 4 kills s6 about 70 ms after s0 sends it a message. Now and then (2 in 25 looped runs) that message
      // was reported undelivered: it was in s6's inbox, its `received` event lost with the process, and the resend
      // after the restart, a duplicate, was not announced. The inbox now announces such a duplicate; the report's
      // `trails` say why a message is missing.)
      drainMs: 120_000,
      lookups: 5,
    })
    // What the run saw, only when a message is missing.
    if (report.delivery.undelivered.length > 0) console.error(`[sim] undelivered after the drain:\n${formatReport(report)}\n${JSON.stringify(report)}`)
    // Two nodes killed (SIGKILL of their own process) and restarted, one killed for good.
    expect(report.churn).toEqual({ nodes: 2, offline: 3, restarts: 2, kill: 'sigkill', stayedOffline: 1 })
    // Everything between nodes that came back arrives; what waits for the node gone for good is reported apart.
    expect(report.delivery.undelivered).toEqual([])
    expect(report.delivery.trails).toEqual({})
    expect(report.completed).toBe(true)
    expect(report.delivery.accepted + report.delivery.toOrFromStayedOffline.accepted).toBeGreaterThan(15)
    expect(report.delivery.toOrFromStayedOffline.delivered).toBeLessThanOrEqual(report.delivery.toOrFromStayedOffline.accepted)
    // The conditions are stated, in the report and at the top of its table.
    expect(report.conditions).toContain('SIGKILL of its own process')
    expect(report.conditions).toContain('1 nodes offline past the run')
    expect(report.conditions).toContain("outbox back-off production's defaults")
    expect(report.conditions).toContain('latency 5 ms and loss 0.02')
    expect(formatReport(report).split('\n')[0]).toBe(`conditions: ${report.conditions}`)
    // the nodes in a process of their own take their rpc counts with them when killed: said, not hidden
    expect(report.dhtRpcs.uncountedNodes).toBe(3)
    expect(formatReport(report)).toContain('the 3 nodes in a process of their own not counted')
  }, 240_000)

  it.each([
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, kill: 'hard' }, 'kill'],
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, stayOffline: 0.6 }, 'stayOffline'],
    [{ nodes: 10, churn: 0.5, messages: 1, durationMs: 1000, stayOffline: 0.5 }, 'stayOffline'],
    [{ nodes: 200, churn: 0.5, messages: 1, durationMs: 1000, kill: 'sigkill' }, 'kill'],
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, backoff: 'fast' }, 'backoff'],
    [{ nodes: 1, churn: 0, messages: 1, durationMs: 1000 }, 'nodes'],
    [{ nodes: 10, churn: 1.5, messages: 1, durationMs: 1000 }, 'churn'],
    [{ nodes: 10, churn: 0.2, messages: -1, durationMs: 1000 }, 'messages'],
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, lossRate: 0.9 }, 'lossRate'],
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, extra: true }, '(root)'],
    [{ nodes: '10', churn: 0.2, messages: 1, durationMs: 1000 }, 'nodes'],
    [{ nodes: 10, churn: 0.2, messages: 1, durationMs: 1000, threads: -1 }, 'threads'],
  ])('refuses bad options with a typed error naming the key (%o)', async (init, key) => {
    const err = await runScenario(init as never).catch((e: unknown) => e as InvalidScenarioError)
    expect(err).toBeInstanceOf(InvalidScenarioError)
    expect((err as InvalidScenarioError).name).toBe('InvalidScenarioError')
    expect((err as InvalidScenarioError).code).toBe('invalid_scenario')
    expect((err as InvalidScenarioError).message).toContain(key)
  })
})
