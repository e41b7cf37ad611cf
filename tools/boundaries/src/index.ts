/** Package boundaries checked from the imports of every source file, and no patched dependency prototypes. */
export { checkBoundaries, checkPackage, formatViolations, projectSourceFiles, sourceFiles, type Violation, workspacePackages } from './check.ts'
export { type ImportRef, importsOf, parseSource, SourceParseError } from './imports.ts'
export { ACTOR_MAY_IMPORT, ACTOR_PACKAGES, forbidden, IO_BUILTINS, IO_PACKAGES, type Manifest, packageOf, type Where } from './rules.ts'
export { type PrototypePatch, prototypePatches, prototypePatchesOf } from './prototype.ts'
export { type BrokenLink, brokenLinks, markdownFiles } from './links.ts'
export { type LeakySignal, leakySignals, leakySignalsOf } from './leaky-signals.ts'
