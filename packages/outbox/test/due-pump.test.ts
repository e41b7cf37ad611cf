import { describe, expect, it } from 'vitest'
import { DuePump } from '../src/lib/due-pump.ts'
import { DueHeap, type HeapItem } from '../src/lib/heap.ts'
import { ManualClock } from './helpers.ts'

type Job = HeapItem & { name: string; finish?: () => void }

/** A pump whose work is a promise each job's test finishes by hand. */
function setup(max: number) {
  const clock = new ManualClock(0)
  const heap = new DueHeap<Job>()
  const started: string[] = []
  const pump: DuePump<Job> = new DuePump({
    clock,
    max,
    heap,
    start: (job) => {
      started.push(job.name)
      pump.begin()
      job.finish = () => pump.end()
    },
  })
  const add = (name: string, due: number): Job => {
    const job: Job = { name, due, heapIndex: -1 }
    heap.push(job)
    return job
  }
  return { clock, heap, pump, started, add }
}

describe('due pump', () => {
  it('starts what is due in due order, never more than max at once, and the rest as slots free up', () => {
    const { pump, started, add } = setup(2)
    const a = add('a', 0)
    add('c', 0)
    add('b', -1)
    pump.pump()
    expect(started).toEqual(['b', 'a'])
    expect(pump.inFlight).toBe(2)
    a.finish?.()
    expect(started).toEqual(['b', 'a', 'c'])
    expect(pump.inFlight).toBe(2)
  })

  it('arms one timer for the earliest item not yet due and starts it when the clock gets there', async () => {
    const { clock, pump, started, add } = setup(4)
    add('late', 500)
    add('soon', 100)
    pump.pump()
    expect(started).toEqual([])
    expect(clock.nextAt).toBe(100)
    await clock.advance(99)
    expect(started).toEqual([])
    await clock.advance(1)
    expect(started).toEqual(['soon'])
    expect(clock.nextAt).toBe(500)
  })

  it('keeps no timer while every slot is busy: the next completion pumps', () => {
    const { clock, pump, started, add } = setup(1)
    const first = add('first', 0)
    add('next', 50)
    pump.pump()
    expect(clock.nextAt).toBeUndefined()
    clock.t = 60
    first.finish?.()
    expect(started).toEqual(['first', 'next'])
  })

  it('idle() waits for the work in flight, then for nothing', async () => {
    const { pump, add } = setup(2)
    const a = add('a', 0)
    pump.pump()
    let woke = false
    const idle = pump.idle().then(() => {
      woke = true
    })
    await Promise.resolve()
    expect(woke).toBe(false)
    a.finish?.()
    await idle
    expect(woke).toBe(true)
    await pump.idle()
  })

  it('after stop() it starts nothing and holds no timer; work in flight still ends', async () => {
    const { clock, pump, started, add } = setup(2)
    const a = add('a', 0)
    pump.pump()
    add('b', 0)
    add('c', 10)
    pump.stop()
    expect(clock.nextAt).toBeUndefined()
    a.finish?.()
    await pump.idle()
    expect(started).toEqual(['a'])
    expect(pump.stopped).toBe(true)
  })
})
