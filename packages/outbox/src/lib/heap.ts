/** An item the heap can hold: its key, and the slot the heap keeps its position in (-1 when outside). */
export interface HeapItem {
  due: number
  heapIndex: number
}

/**
 * A binary min-heap on `due` that knows where each item sits, so an item can be moved (a presence event makes
 * it due now) or removed in O(log n): the engine's one timer always targets `peek()`.
 */
export class DueHeap<T extends HeapItem> {
  #a: T[] = []

  get size(): number {
    return this.#a.length
  }

  peek(): T | undefined {
    return this.#a[0]
  }

  has(item: T): boolean {
    return item.heapIndex >= 0 && this.#a[item.heapIndex] === item
  }

  push(item: T): void {
    if (this.has(item)) {
      this.update(item)
      return
    }
    item.heapIndex = this.#a.length
    this.#a.push(item)
    this.#up(item.heapIndex)
  }

  pop(): T | undefined {
    const top = this.#a[0]
    if (top) this.remove(top)
    return top
  }

  remove(item: T): void {
    if (!this.has(item)) return
    const i = item.heapIndex
    const last = this.#a.pop()!
    item.heapIndex = -1
    if (last === item) return
    this.#a[i] = last
    last.heapIndex = i
    this.#down(i)
    this.#up(last.heapIndex)
  }

  /** Call after changing an item's `due`. */
  update(item: T): void {
    if (!this.has(item)) return
    this.#up(item.heapIndex)
    this.#down(item.heapIndex)
  }

  /** Every item, in no particular order. */
  items(): readonly T[] {
    return this.#a
  }

  /** Restores order after many `due` changes at once. */
  rebuild(): void {
    for (let i = (this.#a.length >> 1) - 1; i >= 0; i--) this.#down(i)
  }

  #up(i: number): void {
    const a = this.#a
    const item = a[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      const parent = a[p]!
      if (parent.due <= item.due) break
      a[i] = parent
      parent.heapIndex = i
      i = p
    }
    a[i] = item
    item.heapIndex = i
  }

  #down(i: number): void {
    const a = this.#a
    const n = a.length
    const item = a[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && a[r]!.due < a[l]!.due ? r : l
      const child = a[c]!
      if (child.due >= item.due) break
      a[i] = child
      child.heapIndex = i
      i = c
    }
    a[i] = item
    item.heapIndex = i
  }
}
