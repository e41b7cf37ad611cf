/** Loopback only: nothing else on the network may drive the node through the UI. */
export const UI_HOST = '127.0.0.1'
/** The bus user the gateway logs in as (least privilege: only contracts whose callers name `ui`). */
export const UI_BUS_USER = 'ui'
/** How often the gateway looks at node.json to follow a node that restarted (its bus port changes). */
export const NODE_POLL_MS = 500
/** Largest JSON body the API accepts (an imported archive is at most 8 MiB, base64 grows it by a third). */
export const MAX_BODY_BYTES = 12 * 1024 * 1024
/** Default bus request deadline; slower verbs get their own below. */
export const REQUEST_TIMEOUT_MS = 10_000
/** Events relayed to the page (those whose contract names `ui` among its readers; this keeps the page's traffic small). */
export const RELAYED_EVENTS = [
  'state',
  'restarted',
  'delivery',
  'received',
  'receipt',
  'online',
  'offline',
  'registration',
  'registered',
  'connection',
  'accountCreated',
  'devicesChanged',
  'deviceRevoked',
  'published',
] as const
