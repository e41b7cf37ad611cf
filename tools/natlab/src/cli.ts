/**
 * natlab: build, list and remove NAT labs (needs root).
 *
 *   npx node --conditions=@baran/source tools/natlab/src/cli.ts <command>
 *     check              can a lab be built here? (tries a probe namespace)
 *     up [--tag T]       builds a lab and leaves it up; prints its tag, namespaces and addresses
 *     list               tags of the labs on this machine
 *     down --tag T       removes the lab T (its processes, namespaces, veths, nft tables)
 *     down --all         removes every lab on this machine (e.g. left by a crashed test)
 *
 * Output is one JSON line; the exit code is 0 on success, 1 on failure, 2 on bad usage.
 */
import { canCreateNamespaces, createNatLab, destroyLab, listLabs } from './index.ts'

const print = (obj: object) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const usage = 'usage: natlab check | up [--tag T] | list | down --tag T | down --all'

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i < 0 ? undefined : (args[i + 1] ?? '')
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv
  switch (command) {
    case 'check': {
      const r = await canCreateNamespaces()
      print(r)
      return r.ok ? 0 : 1
    }
    case 'up': {
      const lab = await createNatLab({ tag: flag(args, '--tag') })
      print({ tag: lab.tag, namespaces: lab.namespaces, addresses: lab.addresses, down: `natlab down --tag ${lab.tag}` })
      return 0
    }
    case 'list':
      print({ labs: await listLabs() })
      return 0
    case 'down': {
      const tags = args.includes('--all') ? await listLabs() : [flag(args, '--tag')]
      if (tags[0] === undefined) {
        process.stderr.write(`${usage}\n`)
        return 2
      }
      const removed: Record<string, string[]> = {}
      for (const tag of tags) removed[tag as string] = await destroyLab(tag as string)
      print({ removed })
      return 0
    }
    default:
      process.stderr.write(`${usage}\n`)
      return 2
  }
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  const e = err as Error & { code?: string }
  print({ error: { name: e.name, code: e.code, message: e.message } })
  process.exitCode = 1
}
