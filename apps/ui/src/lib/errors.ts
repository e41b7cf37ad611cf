/** Thrown when the gateway cannot listen (port taken, bad host) or is given options it cannot use. */
export class GatewayStartError extends Error {
  override name = 'GatewayStartError'
  readonly code = 'gateway_start_failed'
  constructor(message = 'the UI gateway could not start', options?: ErrorOptions) {
    super(message, options)
  }
}

