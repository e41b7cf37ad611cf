import { Bus, discoveryOnline, outboxDelivery } from '@baran/bus'
import { startNatsServer } from '@baran/launch'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { DeliveryTrail } from '../src/lib/trail.ts'

describe('DeliveryTrail', () => {
  it("keeps a message's way: its delivery changes, what its sender heard of the recipient, the recipient's own events and the run's", () => {
    const trail = new DeliveryTrail(Date.now())
    trail.note('sim', 'the run begins')
    trail.note('s0', 'delivery sending attempts 0', { id: 'm1' })
    trail.note('s0', 'delivery sending attempts 0', { id: 'm2' })
    trail.note('s6', 'goes offline')
    trail.note('s0', 'heard the recipient online', { account: 'acc6' })
    trail.note('s1', 'heard the recipient online', { account: 'acc6' })
    trail.note('s0', 'heard the recipient online', { account: 'acc5' })
    trail.note('s5', 'goes offline')
    const way = trail.of({ id: 'm1', from: 's0', to: 's6', toAccount: 'acc6' })
    expect(way.map((l) => l.replace(/^\+\d+ ms /, ''))).toEqual(['sim the run begins', 's0 delivery sending attempts 0', 's6 goes offline', 's0 heard the recipient online'])
    expect(way[0]).toMatch(/^\+\d+ ms sim /)
  })

  it('stays bounded: past its limit the oldest events go', () => {
    const trail = new DeliveryTrail()
    for (let i = 0; i < 50_000; i++) trail.note('s0', `delivery ${i}`, { id: 'm1' })
    const way = trail.of({ id: 'm1', from: 's0', to: 's1', toAccount: 'a1' })
    expect(way.length).toBeLessThanOrEqual(20_000)
    expect(way.at(-1)).toMatch(/delivery 49999$/)
    expect(way[0]).not.toMatch(/delivery 0$/)
  })

  it("follows every node's delivery and presence events on a real bus", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'baran-trail-'))
    const server = await startNatsServer({ workDir: dir, jetstream: false })
    const [monitor, s0] = [await Bus.connect({ servers: server.url, node: 'sim' }), await Bus.connect({ servers: server.url, node: 's0' })]
    try {
      const trail = new DeliveryTrail()
      await trail.follow(monitor)
      const account = 'a'.repeat(40)
      s0.publish(outboxDelivery, { id: 'm1', to: account, deviceId: 'd'.repeat(40), state: 'queued', attempts: 2, at: Date.now(), error: 'unreachable' })
      s0.publish(discoveryOnline, { accountId: account, deviceId: 'd'.repeat(40), peerId: 'p', addrs: ['/ip4/127.0.0.1/tcp/1'], seq: 7, at: Date.now() })
      await s0.flush()
      const way = () => trail.of({ id: 'm1', from: 's0', to: 's6', toAccount: account }).map((l) => l.replace(/^\+\d+ ms /, ''))
      for (let i = 0; i < 50 && way().length < 2; i++) await sleep(20)
      expect(way()).toEqual(['s0 delivery queued attempts 2 error unreachable', 's0 heard the recipient online (seq 7, 1 addrs)'])
    } finally {
      await Promise.all([monitor.close(), s0.close()])
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
