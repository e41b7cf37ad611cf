import { parseSync } from 'rolldown/utils'

/** One module a source file imports: the specifier as written and the line it is on. */
export interface ImportRef {
  specifier: string
  line: number
}

/** Thrown when a source file does not parse, so a file the checker cannot read is never passed as clean. */
export class SourceParseError extends Error {
  constructor(file: string, detail: string, options?: ErrorOptions) {
    super(`${file}: cannot parse: ${detail}`, options)
    this.name = 'SourceParseError'
  }
}

/** An ESTree node as the parser gives it (only what this module reads). */
export interface AstNode {
  type: string
  start: number
  [key: string]: unknown
}

/** Parse TypeScript or JavaScript into its ESTree program (oxc, through rolldown). Throws SourceParseError. */
export function parseSource(file: string, text: string): AstNode {
  const result = parseSync(file, text)
  if (result.errors.length > 0) throw new SourceParseError(file, result.errors.map((e) => e.message).join('; '))
  return result.program as unknown as AstNode
}

/**
 * Every module a file imports, found by parsing it: `import … from`, `import type`, side-effect imports,
 * `export … from`, `import('x')`, `typeof import('x')`, `require('x')` and `import x = require('x')`.
 * A dynamic import whose specifier is computed cannot be checked: it is reported as `<computed>`.
 */
export function importsOf(file: string, text: string): ImportRef[] {
  const found: ImportRef[] = []
  const lineOf = lineIndex(text)
  const add = (specifier: string, at: number): void => void found.push({ specifier, line: lineOf(at) })
  walk(parseSource(file, text), (node) => {
    switch (node.type) {
      case 'ImportDeclaration':
      case 'ExportAllDeclaration':
      case 'ExportNamedDeclaration':
      case 'TSImportType': {
        const source = stringOf(node.source)
        if (source !== undefined) add(source, node.start)
        break
      }
      case 'ImportExpression':
        add(stringOf(node.source) ?? '<computed>', node.start)
        break
      case 'TSExternalModuleReference': {
        const source = stringOf(node.expression)
        if (source !== undefined) add(source, node.start)
        break
      }
      case 'CallExpression': {
        const callee = node.callee as AstNode
        const args = node.arguments as AstNode[]
        if (callee.type === 'Identifier' && callee.name === 'require' && args.length === 1) add(stringOf(args[0]) ?? '<computed>', node.start)
        break
      }
    }
  })
  return found
}

/** Visit every node of a tree, depth first. */
export function walk(node: unknown, visit: (node: AstNode) => void): void {
  if (node === null || typeof node !== 'object') return
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit)
    return
  }
  const n = node as AstNode
  if (typeof n.type === 'string') visit(n)
  for (const [key, child] of Object.entries(n)) if (key !== 'parent' && typeof child === 'object') walk(child, visit)
}

/** The value of a string literal or a template literal without expressions; undefined for anything else. */
function stringOf(node: unknown): string | undefined {
  if (node === null || typeof node !== 'object') return undefined
  const n = node as AstNode
  if (n.type === 'Literal' && typeof n.value === 'string') return n.value
  if (n.type === 'TemplateLiteral' && (n.expressions as unknown[]).length === 0) {
    const [quasi] = n.quasis as Array<{ value: { cooked: string } }>
    return quasi?.value.cooked
  }
  return undefined
}

/** A function from a character offset to its 1-based line number. */
function lineIndex(text: string): (offset: number) => number {
  const starts = [0]
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1)
  return (offset) => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((starts[mid] ?? 0) <= offset) lo = mid
      else hi = mid - 1
    }
    return lo + 1
  }
}
