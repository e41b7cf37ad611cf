import { describe, expect, it } from 'vitest'
import { announceOf } from '../src/lib/relay.ts'

describe('announceOf', () => {
  it('announces fixed public listen addresses as they are (libp2p would hold them back until a dial-back)', () => {
    expect(announceOf(['/ip4/11.0.100.10/tcp/4001'])).toEqual(['/ip4/11.0.100.10/tcp/4001'])
    expect(announceOf(['/ip4/11.0.100.10/tcp/4001', '/ip4/11.0.100.10/tcp/4002/ws'])).toEqual(['/ip4/11.0.100.10/tcp/4001', '/ip4/11.0.100.10/tcp/4002/ws'])
  })
  it("leaves wildcard, port-0 and private-only listen addresses to libp2p's own", () => {
    expect(announceOf(['/ip4/0.0.0.0/tcp/4001'])).toBeUndefined()
    expect(announceOf(['/ip4/11.0.100.10/tcp/0'])).toBeUndefined()
    expect(announceOf(['/ip4/127.0.0.1/tcp/4001'])).toBeUndefined()
    expect(announceOf(['/ip4/198.51.100.10/tcp/4001'])).toBeUndefined()
    expect(announceOf(['/ip4/11.0.100.10/tcp/4001', '/ip4/0.0.0.0/tcp/4002'])).toBeUndefined()
  })
})
