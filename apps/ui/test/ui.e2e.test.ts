/**
 * The web UI end to end: two real nodes (Alice's gateway from `baran start --ui`, Bob's from `baran ui`), two
 * pages in headless Debian Chromium driven by playwright-core. Chat across a restart of Bob's node, the node
 * view across a kill -9 of an actor, the token, and malformed input.
 */
import { identityContacts, identitySetConversationName, identityStatus } from '@baran/bus'
import { Cleanup, waitUntil } from '@baran/testkit'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'
import { build } from 'vite'
import { WebSocket } from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, spawnBaran, startNode, stopNode, type TestNode } from '../../node/test/helpers.ts'

const cleanup = new Cleanup()
const SHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url))
const tag = process.pid.toString(36)
const names = { alice: `alice-${tag}`, bob: `bob-${tag}` }
let a: TestNode
let b: TestNode
let aliceUrl: string
let bobUrl: string
let browser: Browser
let alicePage: Page
let bobPage: Page

/** The `ui <url>` line a process printed. */
function uiUrlOf(output: string[]): string | undefined {
  return output.find((l) => l.startsWith('ui http://'))?.slice(3)
}

beforeAll(async () => {
  await build({ configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)), logLevel: 'warn' })
  a = await startNode(cleanup, {}, { name: 'alice', args: ['--create-account', '--ui'] })
  cleanup.add('stop alice', () => a.proc.stop('SIGTERM', 20_000))
  b = await startNode(cleanup, {}, { name: 'bob', home: a.home, args: ['--create-account'] })
  cleanup.add('stop bob', () => b.proc.stop('SIGTERM', 20_000))
  for (const n of [a, b]) await waitUntil(async () => (await n.bus.request(identityStatus, {})).hasAccount, { timeoutMs: 20_000, what: 'account' })
  aliceUrl = await waitUntil(() => uiUrlOf(a.proc.output), { timeoutMs: 20_000, what: "alice's UI URL" })
  // Bob's gateway is its own process (`baran ui`): it outlives his node's restart and follows it.
  const bobUi = spawnBaran(cleanup, ['ui', '--data-dir', b.dataDir], { env: { BARAN_HOME: a.home } })
  bobUrl = await waitUntil(() => uiUrlOf(bobUi.output), { timeoutMs: 20_000, what: "bob's UI URL" })
  for (const [n, name] of [[a, names.alice], [b, names.bob]] as const) {
    const r = await cli(cleanup, ['register', name, '--data-dir', n.dataDir], { BARAN_HOME: a.home })
    expect(r.code, r.out).toBe(0)
  }
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  })
  cleanup.add('close browser', () => browser.close())
  alicePage = await browser.newPage({ viewport: { width: 1200, height: 720 } })
  bobPage = await browser.newPage({ viewport: { width: 1200, height: 720 } })
  await mkdir(SHOTS, { recursive: true })
}, 120_000)
afterAll(() => cleanup.run(), 60_000)

const msg = (p: Page, text: string) => p.locator('[data-testid="msg"]', { hasText: text })

describe('the token', () => {
  it('refuses every request and the WebSocket without the right token', async () => {
    const base = new URL(aliceUrl)
    const root = `${base.origin}/`
    expect((await fetch(root)).status).toBe(401)
    expect((await fetch(`${root}?token=wrong`)).status).toBe(401)
    expect((await fetch(`${root}assets/x.js`)).status).toBe(401)
    const noHeader = await fetch(`${root}api/node.status?token=${base.searchParams.get('token')}`, { method: 'POST', body: '{}' })
    expect(noHeader.status).toBe(401)
    expect(((await noHeader.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
    const ws = new WebSocket(`ws://${base.host}/ws`)
    const refused = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => resolve(-1))
    })
    ws.terminate()
    expect(refused).toBe(401)
    // With it: the page.
    const ok = await fetch(aliceUrl)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toContain('<div id="app">')
  })
})

describe('node view', () => {
  it('shows every actor ready, then the restart after kill -9 of one', async () => {
    await alicePage.goto(`${aliceUrl}#node`)
    const actors = ['identity', 'naming', 'discovery', 'transport', 'outbox']
    for (const name of actors) {
      await alicePage.locator(`[data-testid="actor-${name}"][data-state="ready"]`).waitFor({ timeout: 20_000 })
    }
    const before = (await a.status()).actors
    const pid = before.naming?.pid ?? -1
    expect(pid).toBeGreaterThan(0)
    // naming is a thread of the default node's shared process: the kill restarts every actor of that process
    const killed = actors.filter((name) => before[name]?.pid === pid)
    expect(killed).toContain('naming')
    await expect(alicePage.locator('[data-testid="actor-naming"] [data-testid="actor-pid"]').textContent()).resolves.toContain(`${pid} (core)`)
    process.kill(pid, 'SIGKILL')
    await alicePage.locator('[data-testid="restarts"]', { hasText: 'naming' }).waitFor({ timeout: 30_000 })
    for (const name of killed) {
      await alicePage.locator(`[data-testid="actor-${name}"][data-state="ready"][data-restarts="1"]`).waitFor({ timeout: 30_000 })
    }
    await alicePage.screenshot({ path: `${SHOTS}node.png`, fullPage: true })
  }, 60_000)
})

describe('chat', () => {
  it('Alice adds Bob by name and sends; Bob sees it; Alice sees it delivered', async () => {
    await alicePage.goto(`${aliceUrl}#chat`)
    await bobPage.goto(`${bobUrl}#chat`)
    await alicePage.locator('[data-testid="link"]', { hasText: 'node connected' }).waitFor({ timeout: 15_000 })
    await alicePage.locator('[data-testid="add-contact"] input').fill(names.bob)
    await alicePage.locator('[data-testid="add-contact"] button').click()
    await alicePage.locator('[data-testid="contact"]', { hasText: names.bob }).click()
    await alicePage.locator('[data-testid="composer"] input').fill('hello Bob, from the web')
    await alicePage.locator('[data-testid="composer"] button').click()
    await msg(alicePage, 'hello Bob, from the web').waitFor({ timeout: 10_000 })
    // Bob's page: a new conversation with an unread message, live.
    await bobPage.locator('[data-testid="unread"]').waitFor({ timeout: 30_000 })
    // Alice is not Bob's contact: her first message is a contact request, which he accepts.
    const request = bobPage.locator('[data-testid="request"]', { hasText: 'hello Bob, from the web' })
    await request.waitFor({ timeout: 30_000 })
    const alice = await request.getAttribute('data-account')
    await request.locator('[data-testid="request-accept"]').click()
    await bobPage.locator('[data-testid="requests"]').waitFor({ state: 'detached', timeout: 10_000 })
    expect((await b.bus.request(identityContacts, {})).contacts.map((c) => c.accountId)).toEqual([alice])
    await bobPage.locator('[data-testid="contact"]').first().click()
    await bobPage.locator('[data-testid="msg-in"]', { hasText: 'hello Bob, from the web' }).waitFor({ timeout: 10_000 })
    await alicePage.locator('[data-testid="msg"][data-state="delivered"]', { hasText: 'hello Bob' }).waitFor({ timeout: 30_000 })
  }, 90_000)

  it("stays queued while Bob's node is down, and turns delivered once it is back", async () => {
    await stopNode(b)
    await bobPage.locator('[data-testid="link"]', { hasText: 'unreachable' }).waitFor({ timeout: 15_000 })
    await alicePage.locator('[data-testid="composer"] input').fill('while you were away')
    await alicePage.locator('[data-testid="composer"] button').click()
    // The outbox may try Bob's old address once (a moment of `sending`); the message then waits, queued.
    const queued = alicePage.locator('[data-testid="msg"][data-state="queued"]', { hasText: 'while you were away' })
    await queued.waitFor({ timeout: 15_000 })
    await new Promise((r) => setTimeout(r, 1500))
    await queued.waitFor({ timeout: 10_000 })
    expect(await msg(alicePage, 'while you were away').getAttribute('data-state')).not.toBe('delivered')
    b = await startNode(cleanup, {}, { home: a.home, dataDir: b.dataDir })
    cleanup.add('stop bob again', () => b.proc.stop('SIGTERM', 20_000))
    await alicePage.locator('[data-testid="msg"][data-state="delivered"]', { hasText: 'while you were away' }).waitFor({ timeout: 60_000 })
    // Bob's page was never reloaded: its gateway followed the node and the message shows up live.
    await bobPage.locator('[data-testid="link"]', { hasText: 'node connected' }).waitFor({ timeout: 30_000 })
    await bobPage.locator('[data-testid="msg-in"]', { hasText: 'while you were away' }).waitFor({ timeout: 30_000 })
    await alicePage.screenshot({ path: `${SHOTS}chat.png`, fullPage: true })
  }, 120_000)

  it("titles the chat with the conversation's name once the account names it", async () => {
    const bob = (await b.bus.request(identityStatus, {})).account?.accountId ?? ''
    await a.bus.request(identitySetConversationName, { peer: bob, name: 'Bob & me' })
    await alicePage.reload()
    await alicePage.locator('[data-testid="contact"]', { hasText: names.bob }).click()
    await alicePage.locator('.conversation h2', { hasText: 'Bob & me' }).waitFor({ timeout: 15_000 })
  }, 30_000)
})

describe('malformed input', () => {
  it('gets a visible error in the page, not a blank page', async () => {
    await alicePage.locator('[data-testid="add-contact"] input').fill('Not A Name!!')
    await alicePage.locator('[data-testid="add-contact"] button').click()
    const err = alicePage.locator('[data-testid="error"]')
    await err.waitFor({ timeout: 15_000 })
    expect(await err.textContent()).toMatch(/invalid_name|not_found|invalid/)
    expect(await alicePage.locator('[data-testid="contact"]').count()).toBeGreaterThan(0)
  }, 30_000)

  it('gets a 400 JSON error from the API, checked with the contract', async () => {
    const base = new URL(aliceUrl)
    const headers = { 'x-baran-token': base.searchParams.get('token') ?? '', 'content-type': 'application/json' }
    const bad = await fetch(`${base.origin}/api/outbox.send`, { method: 'POST', headers, body: JSON.stringify({ to: 5, body: '' }) })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request')
    const notJson = await fetch(`${base.origin}/api/outbox.send`, { method: 'POST', headers, body: '{nope' })
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json')
    const unknown = await fetch(`${base.origin}/api/identity.exportArchiveX`, { method: 'POST', headers, body: '{}' })
    expect(unknown.status).toBe(404)
    // A verb the ui user may not call is not even routed (identity.signPresence is discovery's).
    expect((await fetch(`${base.origin}/api/identity.signPresence`, { method: 'POST', headers, body: '{}' })).status).toBe(404)
  })
})
