import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { projectSourceFiles } from './check.ts'
import { type AstNode, parseSource, walk } from './imports.ts'

/**
 * A module must not patch a dependency's (or a built-in's) prototype: that changes the dependency for every user in
 * the process, silently. Wrap it where you use it instead (a factory passed in the configuration, an instance).
 * Found by parsing: assignments, `delete`, and `Object.defineProperty/defineProperties/assign/setPrototypeOf` or
 * `Reflect.set/defineProperty/deleteProperty` whose target is `X.prototype` (or something reached through it, or a
 * variable holding it), where X is imported from a package or is a global, not a class of the module itself.
 */
export interface PrototypePatch {
  file: string
  line: number
  /** The object whose prototype is patched, e.g. `YamuxStream`. */
  owner: string
}

const MUTATORS: Record<string, string[]> = {
  Object: ['defineProperty', 'defineProperties', 'assign', 'setPrototypeOf'],
  Reflect: ['set', 'defineProperty', 'deleteProperty', 'setPrototypeOf'],
}

/** The prototype patches in one file's text. */
export function prototypePatchesOf(file: string, text: string): PrototypePatch[] {
  const program = parseSource(file, text)
  const local = new Set<string>()
  const fromPackages = new Set<string>()
  walk(program, (node) => {
    if (node.type === 'ImportDeclaration') {
      const source = (node.source as AstNode).value as string
      const bare = !source.startsWith('.') && !source.startsWith('/')
      for (const spec of node.specifiers as AstNode[]) (bare ? fromPackages : local).add(((spec.local as AstNode).name as string) ?? '')
    } else if ((node.type === 'ClassDeclaration' || node.type === 'FunctionDeclaration') && node.id) {
      local.add((node.id as AstNode).name as string)
    }
  })
  /** Not the module's own: imported from a package, or not declared here at all (a global). */
  const foreign = (name: string): boolean => fromPackages.has(name) || !local.has(name)
  const aliases = new Map<string, string>()

  /** The owner X when `node` is X.prototype, reached through it, or a variable holding it; else undefined. */
  const prototypeOwner = (node: unknown): string | undefined => {
    let n = unwrap(node)
    while (n?.type === 'MemberExpression') {
      const object = unwrap(n.object)
      const property = n.property as AstNode
      if (!n.computed && property.name === 'prototype' && object?.type === 'Identifier' && foreign(object.name as string)) return object.name as string
      n = object
    }
    return n?.type === 'Identifier' ? aliases.get(n.name as string) : undefined
  }

  // Variables that hold a foreign prototype (`const proto = X.prototype as unknown as Y`), to a fixed point.
  for (let round = 0, grew = true; grew && round < 5; round++) {
    grew = false
    walk(program, (node) => {
      if (node.type !== 'VariableDeclarator' || (node.id as AstNode).type !== 'Identifier') return
      const name = (node.id as AstNode).name as string
      const owner = prototypeOwner(node.init)
      if (owner !== undefined && !aliases.has(name)) {
        aliases.set(name, owner)
        grew = true
      }
    })
  }

  const lineOf = (at: number): number => text.slice(0, at).split('\n').length
  const patches: PrototypePatch[] = []
  const found = (owner: string | undefined, at: number): void => {
    if (owner !== undefined) patches.push({ file, line: lineOf(at), owner })
  }
  walk(program, (node) => {
    if (node.type === 'AssignmentExpression') {
      const left = unwrap(node.left)
      // `X.prototype = …` or `X.prototype.m = …` / `proto.m = …`
      if (left?.type === 'MemberExpression') found(prototypeOwner(left), node.start)
    } else if (node.type === 'UnaryExpression' && node.operator === 'delete') {
      found(prototypeOwner(node.argument), node.start)
    } else if (node.type === 'CallExpression') {
      const callee = unwrap(node.callee)
      const object = callee?.type === 'MemberExpression' ? unwrap(callee.object) : undefined
      const method = callee?.type === 'MemberExpression' ? ((callee.property as AstNode).name as string) : undefined
      const [target] = node.arguments as AstNode[]
      if (object?.type === 'Identifier' && method !== undefined && MUTATORS[object.name as string]?.includes(method)) found(prototypeOwner(target), node.start)
    }
  })
  return patches
}

/** Every prototype patch in the project's sources (packages, apps, tools, examples). */
export function prototypePatches(root: string): PrototypePatch[] {
  return projectSourceFiles(root).flatMap((file) => prototypePatchesOf(relative(root, file), readFileSync(file, 'utf8')))
}

/** The expression inside TypeScript's `as`, `satisfies`, `!` and parentheses. */
function unwrap(node: unknown): AstNode | undefined {
  let n = node as AstNode | null | undefined
  while (
    n &&
    (n.type === 'TSAsExpression' || n.type === 'TSSatisfiesExpression' || n.type === 'TSNonNullExpression' || n.type === 'ParenthesizedExpression' || n.type === 'TSTypeAssertion')
  ) {
    n = n.expression as AstNode
  }
  return n ?? undefined
}
