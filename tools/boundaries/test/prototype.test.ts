import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { prototypePatches, prototypePatchesOf } from '../src/index.ts'

const REPO = fileURLToPath(new URL('../../..', import.meta.url))

/** How packages/discovery/src/lib/yamux-window.ts patched yamux before it became a muxer of its own (54f6755). */
const OLD_YAMUX_WINDOW = `import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
const PATCHED = Symbol.for('baran.yamux.coalescedWindowUpdates')
export function coalesceYamuxWindowUpdates(): void {
  const proto = YamuxStream.prototype as unknown as WindowFields & { [PATCHED]?: true }
  if (proto[PATCHED]) return
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowFields) {
    original.call(this)
  }
  proto[PATCHED] = true
}`

describe('no module assigns to a dependency prototype', () => {
  it('none in the project sources (packages, apps, tools, examples)', () => {
    const patches = prototypePatches(REPO)
    expect(patches.map((p) => `${p.file}:${p.line} patches ${p.owner}.prototype`)).toEqual([])
  })

  it('finds the old yamux patch, through the variable that held the prototype', () => {
    expect(prototypePatchesOf('yamux-window.ts', OLD_YAMUX_WINDOW)).toEqual([
      { file: 'yamux-window.ts', line: 7, owner: 'YamuxStream' },
      { file: 'yamux-window.ts', line: 10, owner: 'YamuxStream' },
    ])
  })

  it('finds direct assignments, delete, defineProperty, Object.assign and Reflect on imported or global prototypes', () => {
    const text = [
      `import { Stream } from 'some-lib'`,
      `import { Mine } from './mine.ts'`,
      `Stream.prototype.write = () => {}`,
      `;(Stream.prototype as any).close = () => {}`,
      `delete Stream.prototype.end`,
      `Object.defineProperty(Array.prototype, 'last', { value: 1 })`,
      `Object.assign(Promise.prototype, { x: 1 })`,
      `Reflect.set(Stream.prototype, 'y', 2)`,
      `Stream.prototype = {}`,
    ].join('\n')
    expect(prototypePatchesOf('x.ts', text).map((p) => [p.line, p.owner])).toEqual([
      [3, 'Stream'],
      [4, 'Stream'],
      [5, 'Stream'],
      [6, 'Array'],
      [7, 'Promise'],
      [8, 'Stream'],
      [9, 'Stream'],
    ])
  })

  it("leaves the module's own classes, project modules and plain reads alone", () => {
    const text = [
      `import { Mine } from './mine.ts'`,
      `class Local {}`,
      `function Old() {}`,
      `Local.prototype.extra = 1`,
      `Old.prototype.method = function () {}`,
      `Mine.prototype.hook = 2`,
      `const read = Object.getPrototypeOf(x) === Object.prototype`,
      `const copy = { ...Array.prototype }`,
      `x.prototypeCount = 3`,
    ].join('\n')
    expect(prototypePatchesOf('y.ts', text)).toEqual([])
  })
})
