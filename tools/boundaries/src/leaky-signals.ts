import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { projectSourceFiles } from './check.ts'
import { type AstNode, parseSource, walk } from './imports.ts'

/**
 * `AbortSignal.any([…, AbortSignal.timeout(ms)])` leaks in Node 22 when another signal in the list lives long (an
 * actor's lifetime signal): Node keeps the composite for as long as that signal lives (nodejs/node#64476). Use
 * `deadline()` / `withDeadline()` from `@baran/actor/deadline`. Found by parsing: a call of `AbortSignal.any` whose
 * array holds `AbortSignal.timeout(…)`, or a name the same module assigns one to.
 */
export interface LeakySignal {
  file: string
  line: number
}

const isCallOf = (node: AstNode | undefined, method: string): boolean => {
  const callee = node?.type === 'CallExpression' ? (node.callee as AstNode) : undefined
  return (
    callee?.type === 'MemberExpression' &&
    (callee.object as AstNode).type === 'Identifier' &&
    (callee.object as AstNode).name === 'AbortSignal' &&
    (callee.property as AstNode).name === method
  )
}

/** The leaky AbortSignal.any calls in one file's text. */
export function leakySignalsOf(file: string, text: string): LeakySignal[] {
  const program = parseSource(file, text)
  const timeoutNames = new Set<string>()
  walk(program, (node) => {
    if (node.type === 'VariableDeclarator' && (node.id as AstNode).type === 'Identifier' && isCallOf(node.init as AstNode, 'timeout')) {
      timeoutNames.add((node.id as AstNode).name as string)
    }
  })
  const isTimeout = (el: AstNode | null): boolean =>
    el !== null && (isCallOf(el, 'timeout') || (el.type === 'Identifier' && timeoutNames.has(el.name as string)))
  const lineOf = (at: number): number => text.slice(0, at).split('\n').length
  const found: LeakySignal[] = []
  walk(program, (node) => {
    if (!isCallOf(node, 'any')) return
    const [list] = node.arguments as AstNode[]
    if (list?.type === 'ArrayExpression' && (list.elements as (AstNode | null)[]).some(isTimeout)) found.push({ file, line: lineOf(node.start) })
  })
  return found
}

/** Every leaky AbortSignal.any in the project's sources (packages, apps, tools, examples). */
export function leakySignals(root: string): LeakySignal[] {
  return projectSourceFiles(root).flatMap((file) => leakySignalsOf(relative(root, file), readFileSync(file, 'utf8')))
}
