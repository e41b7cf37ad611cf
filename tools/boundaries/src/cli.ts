// `npm run check -w @baran/boundaries [root]`: print every boundary violation of the workspace; exit 1 if any.
import { resolve } from 'node:path'
import { checkBoundaries, formatViolations } from './check.ts'

const root = resolve(process.argv[2] ?? new URL('../../..', import.meta.url).pathname)
const violations = checkBoundaries(root)
if (violations.length > 0) {
  console.error(formatViolations(violations))
  process.exit(1)
}
console.log(`boundaries: ${root}: ok`)
