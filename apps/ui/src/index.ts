/**
 * @baran/ui — the web UI of a Baran node: a local chat, the account, and a live view of the node's actors.
 *
 * `startGateway` serves the built page (apps/ui/dist, `npm run build:web`) on 127.0.0.1 behind a random
 * per-start token, with a JSON API over the node's bus (as the least-privileged `ui` user, every input
 * validated with the bus contracts) and a WebSocket that relays the node's events.
 */
export { startGateway, DEFAULT_DIST } from './server/gateway.ts'
export type { Gateway, GatewayOptions } from './server/gateway.ts'
export { NodeLink } from './server/node-link.ts'
export type { LinkMessage, Logger } from './server/node-link.ts'
export { ROUTES } from './lib/routes.ts'
export type { Route } from './lib/routes.ts'
export { GatewayStartError } from './lib/errors.ts'
export { UI_HOST, UI_BUS_USER, RELAYED_EVENTS } from './lib/constants.ts'
