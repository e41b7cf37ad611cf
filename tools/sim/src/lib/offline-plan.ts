/** Which nodes of a scenario go offline for good, which churn, and the scenario's conditions in words. */
import { ANCHOR_NODES, BACK_BY_FRACTION, SIM_BACKOFF } from './constants.ts'
import { createRng } from './rng.ts'
import type { Scenario } from './scenario-schema.ts'

/** Who goes offline for good, who churns (drawn here only with sigkill), and who therefore runs in a process of its own. */
export interface OfflinePlan {
  anchors: number
  stay: Set<number>
  /** Fraction of the run at which each stay-offline node goes (in the order of `stay`). */
  stayOffAt: number[]
  churn: Set<number> | undefined
  processNodes: Set<number>
}

export function planOffline(sc: Scenario): OfflinePlan {
  const churnCount = Math.round(sc.churn * sc.nodes)
  const stayCount = Math.round(sc.stayOffline * sc.nodes)
  const anchors = Math.min(ANCHOR_NODES, Math.max(1, sc.nodes - churnCount - stayCount))
  const pick = createRng(sc.seed ^ 0x0ff1)
  const rest = Array.from({ length: sc.nodes - anchors }, (_, i) => anchors + i)
  const stay = new Set(pick.sample(rest, Math.min(stayCount, rest.length)))
  const stayOffAt = [...stay].map(() => pick.between(0.1, 0.35))
  const churn = sc.kill === 'sigkill' ? new Set(pick.sample(rest.filter((i) => !stay.has(i)), churnCount)) : undefined
  const processNodes = sc.kill === 'sigkill' ? new Set([...stay, ...(churn ?? [])]) : new Set<number>()
  return { anchors, stay, stayOffAt, churn, processNodes }
}

/** The scenario's conditions in one line: what a reader needs to judge the figures. */
export function conditionsOf(sc: Scenario, plan: OfflinePlan = planOffline(sc)): string {
  const how = sc.kill === 'sigkill' ? 'SIGKILL of its own process' : 'graceful stop (actors stopped, bus closed)'
  const layout = sc.threads > 0 ? `${sc.threads} worker threads` : 'one thread'
  return [
    `${sc.nodes} nodes on ${layout}${plan.processNodes.size > 0 ? ` (${plan.processNodes.size} of them each in a process of its own)` : ''}, ${plan.anchors} anchors`,
    `churn ${sc.churn} (${Math.round(sc.churn * sc.nodes)} nodes offline by ${how}, back by ${BACK_BY_FRACTION * 100} % of the run)`,
    `${plan.stay.size} nodes offline past the run (${how})`,
    `${sc.messages} messages over ${sc.durationMs} ms, drain ≤ ${sc.drainMs} ms`,
    `latency ${sc.latencyMs} ms and loss ${sc.lossRate} on envelopes and acks (DHT traffic not shaped)`,
    `outbox back-off ${sc.backoff === 'production' ? "production's defaults" : `sim (${SIM_BACKOFF.initialMs}–${SIM_BACKOFF.maxMs} ms)`}`,
    `seed ${sc.seed}`,
  ].join('; ')
}
