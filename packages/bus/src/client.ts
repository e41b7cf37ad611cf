/**
 * `@baran/bus/client`: the light entry for short-lived clients (`baran status`, `baran stop`): the bus client and
 * the node's and transport's contracts, without every actor's contracts and the nats-server launcher, which cost
 * a command about a third of its start.
 */
export { Bus } from './lib/bus.ts'
export { BusError, BusErrorCode } from './lib/errors.ts'
export { SUBJECT_ROOT, requestSubject, eventSubject } from './lib/subjects.ts'
export { canRead } from './lib/contract.ts'
export type { RequestContract, EventContract } from './lib/contract.ts'
export { ANY_CALLER } from './contracts/lifecycle.ts'
export { NODE_ACTOR, nodeStatus, nodeStop } from './contracts/node.ts'
export type { ActorStatus, NodeStatus } from './contracts/node.ts'
export { transportInfo } from './contracts/transport.ts'
