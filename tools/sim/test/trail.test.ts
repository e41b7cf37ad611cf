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
})
