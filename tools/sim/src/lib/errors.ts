/** Thrown when scenario options are invalid (the message names the option). */
export class InvalidScenarioError extends Error {
  override name = 'InvalidScenarioError'
  readonly code = 'invalid_scenario'
  constructor(message = 'invalid scenario options', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a simulated node's actors do not start (setup cannot go on without every node). */
export class NodeStartError extends Error {
  override name = 'NodeStartError'
  readonly code = 'node_start_failed'
  constructor(message = 'a simulated node did not start', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Thrown when a shard (a worker thread holding simulated nodes) fails or exits. */
export class ShardError extends Error {
  override name = 'ShardError'
  readonly code = 'shard_failed'
  constructor(message = 'a simulation shard failed', options?: ErrorOptions) {
    super(message, options)
  }
}
