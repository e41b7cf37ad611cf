/**
 * libp2p pieces shared by the node's libp2p hosts (discovery's DHT node and transport's message host): each wraps
 * a libp2p module where a host's configuration passes it, so no other host in the process is touched.
 */
export { connectionMonitorOf, type KeepAliveInit, keepAlivePing, PING_STREAMS } from './lib/keep-alive.ts'
export { NOISE_MAX_BUFFERED, NOISE_VERSION, NoiseFrameDecoder, NoiseInternalsChangedError, withFrameDecoder } from './lib/noise-frames.ts'
export { noiseOneWrite, oneWritePerSend } from './lib/one-write.ts'
export { coalesceWindowUpdates, YAMUX_VERSION, YamuxInternalsChangedError, yamuxCoalesced } from './lib/yamux-window.ts'
export { hostLogger, SILENT_COMPONENT_LOGGER } from './lib/host-logger.ts'
