import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ARTIFACT_PATH, CONTRACT_PATH, compileRegistry, renderArtifact } from '../scripts/compile-contract.ts'
import * as artifact from '../src/generated/registry-artifact.ts'

describe('registry artifact (drift check)', () => {
  const compiled = compileRegistry()

  it('the committed artifact is exactly what the compile script writes', () => {
    // If this fails: run `npm run compile:contract` in packages/naming and commit the result.
    expect(readFileSync(ARTIFACT_PATH, 'utf8')).toBe(renderArtifact(compiled))
  })

  it('records the solc version and the hash of the source it was built from', () => {
    const source = readFileSync(CONTRACT_PATH, 'utf8')
    expect(artifact.registrySourceSha256).toBe(createHash('sha256').update(source).digest('hex'))
    expect(artifact.registrySolcVersion).toMatch(/^0\.8\.37\+/)
    expect(artifact.registryBytecode).toBe(compiled.bytecode)
    expect(artifact.registryAbi).toEqual(compiled.abi)
  })

  it('exposes the functions, custom errors and events of the protocol', () => {
    const names = (kind: string) => artifact.registryAbi.filter((x) => x.type === kind).map((x) => ('name' in x ? x.name : ''))
    expect(names('function')).toEqual(
      expect.arrayContaining(['commit', 'reveal', 'lookup', 'namesOf', 'namesOfRange', 'isValidName', 'makeCommitment']),
    )
    expect(names('error')).toEqual(
      expect.arrayContaining(['InvalidName', 'NameTaken', 'CommitmentUnknown', 'CommitmentTooNew', 'CommitmentExpired']),
    )
    expect(names('event')).toEqual(expect.arrayContaining(['Committed', 'NameRegistered']))
  })

  it('fails loudly on a source that does not compile', () => {
    expect(() => compileRegistry('pragma solidity ^0.8.0; contract Registry { function }')).toThrow(/solc reported/)
  })
})
