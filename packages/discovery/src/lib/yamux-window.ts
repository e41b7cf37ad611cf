import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate(): void
}

const PATCHED = Symbol.for('baran.yamux.coalescedWindowUpdates')

/**
 * @chainsafe/libp2p-yamux 8 answers every data frame it reads with a WindowUpdate frame, so each small DHT message
 * costs two frames (two Noise encryptions and socket writes), and on the put → push path the update goes out before
 * the message is handled. Go's yamux, the reference implementation, sends an update only once half of the receive
 * window has been consumed; this makes js-libp2p-yamux do the same, for every yamux stream in the process. The wire
 * protocol is unchanged (a peer's send window simply stays larger than half the window): updates that carry a flag
 * (SYN, ACK) and paused streams still take the library's own path. Idempotent.
 */
export function coalesceYamuxWindowUpdates(): void {
  const proto = YamuxStream.prototype as unknown as WindowFields & { [PATCHED]?: true }
  if (proto[PATCHED]) return
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowFields) {
    const flagless = this.state === StreamState.Established || this.state === StreamState.SYNSent || this.state === StreamState.Finished
    if (flagless && this.recvWindowCapacity > this.recvWindow / 2) return
    original.call(this)
  }
  proto[PATCHED] = true
}
