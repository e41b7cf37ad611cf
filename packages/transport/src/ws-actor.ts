/**
 * The WebSockets-only transport (`@baran/transport/ws`): the shipped transport actor with TCP taken out, for
 * networks that block raw TCP but let WebSockets (HTTP upgrades, proxies) through. It listens only on `/ws`
 * (or `/wss`) multiaddrs (default `/ip4/0.0.0.0/tcp/0/ws` and `/ip6/::/tcp/0/ws`) and dials only `/ws` addresses and relays.
 *
 * Plug it in: `{ "transport": { "listen": ["/ip4/0.0.0.0/tcp/4002/ws"] }, "actors": { "transport": "@baran/transport/ws" } }`.
 */
import { defineTransportActor } from './actor.ts'

export const wsTransportActor = defineTransportActor({ implementation: '@baran/transport/ws', transports: ['ws'] })

/** The name the supervisor looks for. */
export const actor = wsTransportActor
