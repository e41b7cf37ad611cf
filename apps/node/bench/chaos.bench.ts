/**
 * The long chaos run of issue 14: two real nodes on one local network, messages both ways while a random process
 * of either node (any actor, or its nats-server) is killed with SIGKILL every few seconds, with a quiet check
 * (both nodes ready → a probe each way must arrive) every few kills. Prints one JSON object: messages lost and
 * duplicated (goal 0/0), status lies (goal 0), and recovery times (kill → the node says all ready; quiet check →
 * probe delivered).
 *
 * Bounded: `BARAN_CHAOS_MINUTES` (default 10) of chaos, then at most a few minutes to drain. Others:
 * `BARAN_CHAOS_MESSAGES` (default 60 a minute), `BARAN_CHAOS_KILL_EVERY_MS` (4000), `BARAN_CHAOS_SEED`.
 */
import { Cleanup } from '@baran/testkit'
import { runChaos, startPair } from '../test/chaos.ts'

const minutes = Number(process.env.BARAN_CHAOS_MINUTES ?? 10)
const messages = Number(process.env.BARAN_CHAOS_MESSAGES ?? Math.max(20, Math.round(minutes * 60)))
const killEveryMs = Number(process.env.BARAN_CHAOS_KILL_EVERY_MS ?? 4000)
const seed = Number(process.env.BARAN_CHAOS_SEED ?? Date.now() % 100_000)
if (!(minutes > 0 && minutes <= 120 && messages > 0 && messages <= 100_000 && killEveryMs >= 500)) {
  process.stderr.write('BARAN_CHAOS_MINUTES must be in (0, 120], BARAN_CHAOS_MESSAGES in (0, 100000], BARAN_CHAOS_KILL_EVERY_MS >= 500\n')
  process.exit(2)
}
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? null
const cleanup = new Cleanup()

try {
  const pair = await startPair(cleanup)
  const t0 = Date.now()
  const r = await runChaos(pair, {
    messages,
    durationMs: minutes * 60_000,
    killEveryMs,
    quietCheckEvery: 5,
    probeDeadlineMs: 30_000,
    drainDeadlineMs: 180_000,
    seed,
    log: (l) => process.stderr.write(`${l}\n`),
  })
  const recovered = r.kills.map((k) => k.recoveredMs).filter((x): x is number => x !== null)
  const byVictim: Record<string, { kills: number; recoveryP50Ms: number | null; recoveryMaxMs: number | null }> = {}
  for (const victim of new Set(r.kills.map((k) => k.victim))) {
    const xs = r.kills.filter((k) => k.victim === victim).map((k) => k.recoveredMs).filter((x): x is number => x !== null)
    byVictim[victim] = { kills: r.kills.filter((k) => k.victim === victim).length, recoveryP50Ms: pct(xs, 0.5), recoveryMaxMs: xs.length ? Math.max(...xs) : null }
  }
  const probes = r.quietChecks.flatMap((q) => q.probeMs)
  process.stdout.write(
    `${JSON.stringify({
      seed,
      minutes,
      seconds: Math.round((Date.now() - t0) / 1000),
      messages: { sent: r.sent, confirmed: r.confirmed, ambiguous: r.ambiguous, refusedThenResent: r.refusedThenResent, delivered: r.delivered, lost: r.lost, duplicated: r.duplicated, goal: 'lost 0, duplicated 0' },
      kills: r.kills.length,
      // Kill → the node's status says every actor is ready (not measured when the next kill came first).
      recoveryMs: { measured: recovered.length, p50: pct(recovered, 0.5), p95: pct(recovered, 0.95), max: recovered.length ? Math.max(...recovered) : null, byVictim },
      quietChecks: { count: r.quietChecks.length, failed: r.quietChecks.filter((q) => !q.ok).length, readyAfterP50Ms: pct(r.quietChecks.map((q) => q.readyAfterMs), 0.5), probeP50Ms: pct(probes, 0.5), probeMaxMs: probes.length ? Math.max(...probes) : null },
      statusLies: r.statusLies,
      drainMs: r.drainMs,
    })}\n`,
  )
} finally {
  await cleanup.run()
}
