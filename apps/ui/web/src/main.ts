/**
 * The Baran page: Chat, Account and Node views over the gateway's JSON API, kept live by its event socket.
 * One state object, rendered whole with lit-html (it patches only what changed).
 */
import { html, nothing, render, type TemplateResult } from 'lit-html'
import { ApiError, call, connectEvents, token } from './api.ts'
import { answerRequest, loadRequests, requestsView } from './requests.ts'
import type { Account, Contact, ContactRequest, DhtInfo, HistoryMessage, InboxMessage, NodeStatus, Outgoing, Transition, TransportInfo } from './types.ts'

type Page = 'chat' | 'account' | 'node'
const LIFECYCLE = ['idle', 'connecting', 'starting', 'ready', 'degraded', 'stopping', 'stopped', 'failed']
const ID = /^[0-9a-fA-F]{40}$/
/** The highest message ID there can be: `before` it is the newest page of a conversation. */
const AFTER_EVERY_ID = '7ZZZZZZZZZZZZZZZZZZZZZZZZZ'

const s = {
  page: (location.hash.slice(1) || 'chat') as Page,
  wsOpen: false,
  linkUp: false,
  node: null as string | null,
  error: null as string | null,
  notice: null as string | null,
  account: undefined as Account | null | undefined,
  myName: null as string | null,
  contacts: [] as Contact[],
  /** Conversation names (the account's, synced between its devices), by peer: the chat's title when set. */
  names: new Map<string, string>(),
  requests: [] as ContactRequest[],
  selected: null as string | null,
  outgoing: new Map<string, Outgoing>(),
  bodies: JSON.parse(localStorage.getItem('baran-bodies') ?? '{}') as Record<string, string>,
  inbox: [] as InboxMessage[],
  /** The kept history of the selected conversation: shows what the outbox no longer lists (finished records are pruned). */
  history: new Map<string, HistoryMessage[]>(),
  online: new Map<string, boolean>(),
  status: null as NodeStatus | null,
  transitions: {} as Record<string, Transition[]>,
  restarts: [] as Array<{ actor: string; restarts: number; at: number }>,
  dht: null as DhtInfo | null,
  transport: null as TransportInfo | null,
  queueDepth: null as number | null,
  diagramActor: 'outbox',
  registration: [] as Array<{ name: string; phase: string; txHash?: string; error?: { code: string; message: string } }>,
  registering: false,
}

const app = document.getElementById('app') as HTMLElement
// lit-html renders next to existing children: drop the boot text first.
app.textContent = ''
let queued = false
function update(): void {
  if (queued) return
  queued = true
  queueMicrotask(() => {
    queued = false
    render(view(), app)
  })
}

function fail(e: unknown): void {
  s.error = e instanceof ApiError ? `${e.code}: ${e.message}` : `error: ${(e as Error).message}`
  update()
}
/** Runs an action, shows its failure in the error bar (never a blank page). */
async function act(f: () => Promise<unknown>): Promise<void> {
  try {
    s.error = null
    await f()
  } catch (e) {
    fail(e)
  }
  update()
}
const safe = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined)

// ---------- loading ----------
async function loadAccount(): Promise<void> {
  const st = await call<{ hasAccount: boolean; account?: Account }>('identity.status')
  s.account = st.account ?? null
  if (s.account) s.myName = (await safe(call<{ name: string }>('naming.reverse', { accountId: s.account.accountId })))?.name ?? null
}
async function loadChat(): Promise<void> {
  if (!s.account) return
  s.contacts = (await call<{ contacts: Contact[] }>('identity.contacts')).contacts
  const names = await safe(call<{ names: Array<{ peer: string; name: string }> }>('identity.conversationNames'))
  s.names = new Map((names?.names ?? []).map((n) => [n.peer, n.name]))
  s.requests = (await safe(loadRequests())) ?? []
  const pending = await call<{ messages: Outgoing[] }>('outbox.pending', { all: true, limit: 1000 })
  for (const m of pending.messages) if (m.kind !== 'receipt') s.outgoing.set(m.id, m)
  s.inbox = (await call<{ messages: InboxMessage[] }>('outbox.inbox', { limit: 1000 })).messages
  await loadHistory()
  markSelectedRead()
}
/** The selected conversation's last 1000 messages from the history (an older node without it: nothing). */
async function loadHistory(): Promise<void> {
  const peer = s.selected
  if (!peer) return
  const h = await safe(call<{ messages: HistoryMessage[] }>('outbox.history', { peer, limit: 1000, before: AFTER_EVERY_ID }))
  if (h) s.history.set(peer, h.messages)
}
async function loadNode(): Promise<void> {
  s.status = (await safe(call<NodeStatus>('node.status'))) ?? s.status
  s.dht = (await safe(call<DhtInfo>('discovery.info'))) ?? s.dht
  s.transport = (await safe(call<TransportInfo>('transport.info'))) ?? s.transport
  const p = await safe(call<{ total: number }>('outbox.pending', { limit: 1 }))
  if (p) s.queueDepth = p.total
}
async function loadAll(): Promise<void> {
  await act(async () => {
    await loadAccount()
    await loadChat()
  })
  await loadNode()
  update()
}

function markSelectedRead(): void {
  if (s.page !== 'chat' || !s.selected) return
  const ids = s.inbox.filter((m) => m.from === s.selected && !m.read && !m.sync).map((m) => m.id)
  if (ids.length === 0) return
  for (const m of s.inbox) if (ids.includes(m.id)) m.read = true
  void act(() => call('outbox.markRead', { ids }))
}

// ---------- events ----------
function onMessage(m: { type: string; [k: string]: unknown }): void {
  if (m.type === 'link') {
    const wasUp = s.linkUp
    s.linkUp = Boolean(m.up)
    s.node = (m.node as string | null) ?? s.node
    if (m.restarted) s.notice = `node ${s.node} restarted: reconnected`
    if (s.linkUp && !wasUp) void loadAll()
    update()
    return
  }
  if (m.type !== 'event') return
  const body = m.body as Record<string, unknown>
  const actor = m.actor as string
  switch (m.event) {
    case 'state': {
      const t = { state: String(body.state), previous: (body.previous as string | null) ?? null, at: Number(body.at), ...(body.reason ? { reason: String(body.reason) } : {}) }
      s.transitions[actor] = [t, ...(s.transitions[actor] ?? [])].slice(0, 12)
      const a = s.status?.actors[actor]
      if (a) {
        a.state = t.state
        a.pid = Number(body.pid)
      }
      break
    }
    case 'restarted':
      s.restarts = [{ actor: String(body.actor), restarts: Number(body.restarts), at: Number(body.at) }, ...s.restarts].slice(0, 20)
      void loadNode().then(update)
      break
    case 'delivery': {
      const o = s.outgoing.get(String(body.id))
      const d = o?.devices.find((x) => x.deviceId === body.deviceId)
      if (d) d.state = body.state as typeof d.state
      if (!o || !d) void safe(call<Outgoing>('outbox.status', { id: body.id })).then((r) => r && r.kind !== 'receipt' && s.outgoing.set(r.id, r) && update())
      break
    }
    case 'receipt':
      void safe(call<Outgoing>('outbox.status', { id: body.id })).then((r) => r && s.outgoing.set(r.id, r) && update())
      break
    case 'received': {
      const msg = body as unknown as InboxMessage
      if (!s.inbox.some((x) => x.id === msg.id)) s.inbox.push(msg)
      markSelectedRead()
      // a stranger's message may open (or renew) a contact request
      if (!s.contacts.some((c) => c.accountId === msg.from)) void safe(loadRequests()).then((r) => { s.requests = r ?? s.requests; update() })
      break
    }
    case 'online':
    case 'offline':
      s.online.set(String(body.accountId), m.event === 'online')
      break
    case 'registration':
      s.registration.push(body as (typeof s.registration)[number])
      break
    case 'registered':
    case 'accountCreated':
    case 'devicesChanged':
    case 'deviceRevoked':
      void safe(loadAccount()).then(update)
      break
  }
  update()
}

// ---------- actions ----------
async function addContact(input: string): Promise<void> {
  const v = input.trim()
  if (!v) throw new ApiError('invalid_input', 'type a name or a 40-hex account ID')
  let accountId: string
  let name: string | undefined
  if (ID.test(v)) {
    accountId = v.toLowerCase()
    name = (await safe(call<{ name: string }>('naming.reverse', { accountId })))?.name
  } else {
    // naming.lookup verifies the record (the account key signed the claim) before it answers.
    const rec = await call<{ name: string; accountId: string }>('naming.lookup', { name: v })
    accountId = rec.accountId
    name = rec.name
  }
  await call('identity.addContact', { accountId, ...(name ? { name } : {}) })
  await loadChat()
  s.selected = accountId
  s.notice = `added ${name ?? accountId}`
}
async function send(text: string): Promise<void> {
  if (!s.selected) return
  // One idempotency key per user send: if the answer is lost and the send is tried again, it is stored once.
  const req = { to: s.selected, body: text, idempotencyKey: crypto.randomUUID() }
  let o: Outgoing | undefined
  for (let attempt = 1; !o; attempt++) {
    try {
      o = await call<Outgoing>('outbox.send', req)
    } catch (e) {
      const lost = e instanceof ApiError && (e.code === 'timeout' || e.code === 'unreachable')
      if (!lost || attempt >= 3) throw e
    }
  }
  s.bodies[o.id] = text
  localStorage.setItem('baran-bodies', JSON.stringify(s.bodies))
  s.outgoing.set(o.id, o)
}
async function register(name: string): Promise<void> {
  s.registration = []
  s.registering = true
  update()
  try {
    await call('naming.register', { name })
    await loadAccount()
    s.notice = `registered ${name}`
  } finally {
    s.registering = false
  }
}
async function exportArchive(password: string): Promise<void> {
  const r = await call<{ archive: string; accountId: string; bytes: number }>('identity.exportArchive', { password })
  const bytes = Uint8Array.from(atob(r.archive), (c) => c.charCodeAt(0))
  const a = document.createElement('a')
  a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }))
  a.download = `baran-${r.accountId.slice(0, 8)}.archive`
  a.click()
  s.notice = `archive exported (${r.bytes} bytes)`
}
async function importArchive(file: File, password: string): Promise<void> {
  const buf = new Uint8Array(await file.arrayBuffer())
  let bin = ''
  for (const b of buf) bin += String.fromCharCode(b)
  await call('identity.importArchive', { archive: btoa(bin), password })
  await loadAccount()
  await loadChat()
}

// ---------- views ----------
function overall(o: Outgoing): string {
  if (o.expiredAt) return 'expired'
  const ds = o.devices.filter((d) => !d.sync)
  if (ds.length === 0) return 'queued'
  if (ds.every((d) => d.state === 'delivered')) return 'delivered'
  if (ds.some((d) => d.state === 'sending')) return 'sending'
  if (ds.every((d) => d.state === 'expired' || d.state === 'rejected')) return ds[0]?.state ?? 'expired'
  return 'queued'
}
const short = (id: string) => `${id.slice(0, 8)}…${id.slice(-4)}`
const time = (t: number) => new Date(t).toLocaleTimeString()
/** Contacts, then anyone who wrote without being one (their messages must show too). */
function contactList(): Contact[] {
  const known = new Set(s.contacts.map((c) => c.accountId))
  const extra = [...new Set(s.inbox.filter((m) => !m.sync && !known.has(m.from)).map((m) => m.from))]
  return [...s.contacts, ...extra.map((accountId) => ({ accountId, addedAt: 0 }))]
}
const contactName = (id: string) => s.contacts.find((c) => c.accountId === id)?.name ?? short(id)
const unread = (id: string) => s.inbox.filter((m) => m.from === id && !m.read && !m.sync).length
function formValue(e: Event, field: string): string {
  const form = e.target as HTMLFormElement
  return (form.elements.namedItem(field) as HTMLInputElement).value
}
function submit(f: (e: Event) => Promise<unknown>) {
  return (e: Event) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    void act(async () => {
      await f(e)
      form.reset()
    })
  }
}

function view(): TemplateResult {
  const nav = (p: Page, label: string) =>
    html`<a href="#${p}" class=${s.page === p ? 'active' : ''} data-testid="nav-${p}" @click=${() => {
      s.page = p
      if (p === 'node') void loadNode().then(update)
      markSelectedRead()
      update()
    }}>${label}</a>`
  const totalUnread = contactList().reduce((n, c) => n + unread(c.accountId), 0)
  return html`
    <header>
      <strong>Baran</strong> <span class="muted">node ${s.node ?? ''}${s.myName ? ` · ${s.myName}` : ''}</span>
      <nav>${nav('chat', `Chat${totalUnread ? ` (${totalUnread})` : ''}`)} ${nav('account', 'Account')} ${nav('node', 'Node')}</nav>
      <span class="link ${s.linkUp && s.wsOpen ? 'up' : 'down'}" data-testid="link">${!token ? 'no token in the URL' : s.linkUp && s.wsOpen ? 'node connected' : 'node unreachable — reconnecting…'}</span>
    </header>
    ${s.error ? html`<div class="error" role="alert" data-testid="error">${s.error} <button @click=${() => { s.error = null; update() }}>×</button></div>` : nothing}
    ${s.notice ? html`<div class="notice" data-testid="notice">${s.notice} <button @click=${() => { s.notice = null; update() }}>×</button></div>` : nothing}
    <main>${s.page === 'chat' ? chatView() : s.page === 'account' ? accountView() : nodeView()}</main>`
}

function chatView(): TemplateResult {
  if (s.account === undefined) return html`<p class="muted">Loading…</p>`
  if (s.account === null) return html`<p>This node holds no account yet. <a href="#account" @click=${() => { s.page = 'account'; update() }}>Create or import one</a>.</p>`
  const sel = s.selected
  const live = sel
    ? [
        ...[...s.outgoing.values()].filter((o) => o.to === sel && o.kind !== 'receipt').map((o) => ({ id: o.id, mine: true, at: o.createdAt, o, m: undefined })),
        ...s.inbox.filter((m) => (m.sync ? m.to === sel : m.from === sel)).map((m) => ({ id: m.id, mine: m.sync, at: m.sentAt, o: undefined, m })),
      ]
    : []
  // What only the history still has (sent records are pruned a week after they finished).
  const listed = new Set(live.map((x) => x.id))
  const kept = (sel ? (s.history.get(sel) ?? []) : []).filter((h) => !listed.has(h.id)).map((h) => ({ id: h.id, mine: h.direction === 'out', at: h.sentAt, o: undefined, m: h }))
  const convo = [...live, ...kept].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
  return html`<div class="chat">
    <aside>
      <form data-testid="add-contact" @submit=${submit((e) => addContact(formValue(e, 'who')))}>
        <input name="who" placeholder="name or account ID" aria-label="name or account ID" autocomplete="off" />
        <button>Add</button>
      </form>
      ${requestsView(s.requests, contactName, (a, id) => void act(async () => { await answerRequest(a, id); await loadChat() }))}
      <ul class="contacts">
        ${contactList().map(
          (c) => html`<li class=${c.accountId === sel ? 'sel' : ''} data-testid="contact" data-account=${c.accountId} @click=${() => {
            s.selected = c.accountId
            markSelectedRead()
            void safe(loadHistory()).then(update)
            update()
          }}>
            <span class="dot ${s.online.get(c.accountId) ? 'on' : ''}"></span>
            <span class="name">${c.name ?? short(c.accountId)}</span>
            ${unread(c.accountId) ? html`<span class="badge" data-testid="unread">${unread(c.accountId)}</span>` : nothing}
          </li>`,
        )}
      </ul>
    </aside>
    <section class="conversation">
      ${sel
        ? html`<h2>${s.names.get(sel) ?? contactName(sel)} <small class="muted mono">${sel}</small></h2>
            <ol class="messages" data-testid="messages">
              ${convo.map(({ mine, o, m }) =>
                o
                  ? html`<li class="mine" data-testid="msg" data-id=${o.id} data-state=${overall(o)}>
                      <div class="body">${s.bodies[o.id] ?? o.preview ?? ''}</div>
                      <div class="meta">${time(o.createdAt)} · <span class="state ${overall(o)}" data-testid="msg-state">${overall(o)}</span>
                        ${o.devices.filter((d) => !d.sync).map((d) => html`<span class="dev" title=${d.deviceId} data-state=${d.state}>${short(d.deviceId)}: ${d.state}${d.readAt ? ' (read)' : ''}</span>`)}
                      </div>
                    </li>`
                  : html`<li class=${mine ? 'mine' : 'theirs'} data-testid="msg-in" data-id=${m?.id}>
                      <div class="body">${m?.body}</div>
                      <div class="meta">${time(m?.sentAt ?? 0)}</div>
                    </li>`,
              )}
            </ol>
            <form class="composer" data-testid="composer" @submit=${submit((e) => send(formValue(e, 'text')))}>
              <input name="text" placeholder="message" aria-label="message" autocomplete="off" maxlength="65536" />
              <button>Send</button>
            </form>`
        : html`<p class="muted">Add a contact by name or account ID, then pick it.</p>`}
    </section>
  </div>`
}

function accountView(): TemplateResult {
  const a = s.account
  if (a === undefined) return html`<p class="muted">Loading…</p>`
  const importForm = html`<form data-testid="import" @submit=${submit(async (e) => {
    const f = ((e.target as HTMLFormElement).elements.namedItem('file') as HTMLInputElement).files?.[0]
    if (!f) throw new ApiError('invalid_input', 'choose an archive file')
    await importArchive(f, formValue(e, 'password'))
  })}>
    <h3>Import an archive</h3>
    <input type="file" name="file" /> <input type="password" name="password" placeholder="archive password" /> <button>Import</button>
  </form>`
  if (a === null)
    return html`<section class="card"><p>This node holds no account.</p>
      <button data-testid="create-account" @click=${() => act(async () => { await call('identity.create', {}); await loadAccount(); await loadChat() })}>Create an account</button>
      ${importForm}</section>`
  return html`<section class="card">
      <h2>Account</h2>
      <dl>
        <dt>Account ID</dt><dd class="mono" data-testid="account-id">${a.accountId}</dd>
        <dt>Name</dt><dd data-testid="account-name">${s.myName ?? html`<span class="muted">none</span>`}</dd>
        <dt>This device</dt><dd>${a.deviceName} <span class="mono muted">${a.deviceId}</span></dd>
        <dt>Ethereum address</dt><dd class="mono">${a.ethAddress}</dd>
      </dl>
    </section>
    <section class="card">
      <h3>Register a name</h3>
      <form data-testid="register" @submit=${submit((e) => register(formValue(e, 'name')))}>
        <input name="name" placeholder="name" ?disabled=${s.registering} /> <button ?disabled=${s.registering}>Register</button>
      </form>
      <ol class="phases" data-testid="registration">
        ${['committing', 'committed', 'revealing', 'registered'].map((p) => {
          const hit = s.registration.find((r) => r.phase === p)
          return html`<li class=${hit ? 'done' : ''}>${p}${hit?.txHash ? html` <span class="mono muted">${hit.txHash.slice(0, 12)}…</span>` : nothing}</li>`
        })}
        ${s.registration.filter((r) => r.phase === 'failed').map((r) => html`<li class="failed">failed: ${r.error?.message ?? ''}</li>`)}
      </ol>
    </section>
    <section class="card">
      <h3>Devices</h3>
      <ul data-testid="devices">
        ${a.devices.map(
          (d) => html`<li>${d.name} <span class="mono muted">${d.deviceId}</span> ${d.current ? html`<em>(this device)</em>` : html`<button @click=${() => act(async () => { await call('identity.revokeDevice', { deviceId: d.deviceId }); await loadAccount() })}>Revoke</button>`}</li>`,
        )}
        ${a.revoked.map((id) => html`<li class="muted">revoked <span class="mono">${id}</span></li>`)}
      </ul>
      <p class="muted">Link a new device with <code>baran devices link</code> (PIN) on both devices.</p>
    </section>
    <section class="card">
      <form data-testid="export" @submit=${submit((e) => exportArchive(formValue(e, 'password')))}>
        <h3>Export the archive</h3>
        <input type="password" name="password" placeholder="archive password" /> <button>Download</button>
      </form>
      ${importForm}
    </section>`
}

function diagram(actor: string): TemplateResult {
  const cur = s.status?.actors[actor]?.state
  const seen = new Set((s.transitions[actor] ?? []).map((t) => t.state))
  return html`<div class="diagram" data-testid="diagram">
    ${LIFECYCLE.map((st, i) => html`${i > 0 && i < 6 ? html`<span class="arrow">→</span>` : i === 6 ? html`<span class="arrow">|</span>` : nothing}<span class="st ${st === cur ? 'cur' : ''} ${seen.has(st) ? 'seen' : ''}">${st}</span>`)}
    <div class="muted small">ready ⇄ degraded; failed from any state</div>
  </div>`
}

function nodeView(): TemplateResult {
  const st = s.status
  return html`<section class="card">
      <h2>Node ${st?.node ?? s.node ?? ''} <span class="state ${st?.state ?? ''}" data-testid="node-state">${st?.state ?? '…'}</span>
        <button @click=${() => act(loadNode)}>Refresh</button></h2>
      <table class="actors" data-testid="actors">
        <thead><tr><th>actor</th><th>state</th><th>pid</th><th>restarts</th><th>recent transitions</th></tr></thead>
        <tbody>
          ${Object.entries(st?.actors ?? {}).map(
            ([name, a]) => html`<tr data-testid="actor-${name}" data-state=${a.state} data-restarts=${a.restarts} @click=${() => { s.diagramActor = name; update() }}>
              <td><strong>${name}</strong></td>
              <td><span class="state ${a.state}" data-testid="actor-state">${a.state}</span></td>
              <td class="mono" data-testid="actor-pid">${a.pid ?? '-'}${a.process ? html` <span class="muted" title="a thread of this shared process">(${a.process})</span>` : ''}</td>
              <td data-testid="actor-restarts">${a.restarts}</td>
              <td class="small">${(s.transitions[name] ?? []).slice(0, 4).map((t) => html`<span class="tr">${t.previous ?? '∅'}→${t.state} <span class="muted">${time(t.at)}</span></span> `)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section class="card"><h3>Lifecycle of <select @change=${(e: Event) => { s.diagramActor = (e.target as HTMLSelectElement).value; update() }}>
      ${Object.keys(st?.actors ?? {}).map((n) => html`<option ?selected=${n === s.diagramActor}>${n}</option>`)}</select></h3>${diagram(s.diagramActor)}</section>
    <section class="card grid">
      <div><h3>Restarts</h3><ul data-testid="restarts">${s.restarts.length ? s.restarts.map((r) => html`<li>${time(r.at)} <strong>${r.actor}</strong> restarted (#${r.restarts})</li>`) : html`<li class="muted">none seen</li>`}</ul></div>
      <div><h3>DHT</h3><dl><dt>peers</dt><dd data-testid="dht-peers">${s.dht?.peers ?? '…'}</dd><dt>routing table</dt><dd>${s.dht?.routingTableSize ?? '…'}</dd><dt>stored records</dt><dd>${s.dht?.storedRecords ?? '…'}</dd></dl></div>
      <div><h3>Connections</h3><ul data-testid="connections">${(s.transport?.connections ?? []).map((c) => html`<li>${c.upgraded ? 'hole-punched' : c.kind} <span class="mono muted">${short(c.peerId)}</span></li>`)}</ul>
        ${s.transport && s.transport.connections.length === 0 ? html`<p class="muted">none open</p>` : nothing}</div>
      <div><h3>Outbox</h3><dl><dt>queue depth</dt><dd data-testid="queue-depth">${s.queueDepth ?? '…'}</dd></dl></div>
    </section>`
}

window.addEventListener('hashchange', () => {
  s.page = (location.hash.slice(1) || 'chat') as Page
  update()
})
window.addEventListener('error', (e) => fail(e.error ?? new Error(e.message)))
window.addEventListener('unhandledrejection', (e) => fail(e.reason))
connectEvents(onMessage, (open) => {
  s.wsOpen = open
  if (!open) s.linkUp = false
  update()
})
// A safety net for missed events: refresh what is on screen now and then (bounded by the page's life).
setInterval(() => {
  if (!s.linkUp) return
  if (s.page === 'node') void loadNode().then(update)
  else if (s.page === 'chat' && [...s.outgoing.values()].some((o) => !['delivered', 'expired', 'rejected'].includes(overall(o)))) void safe(loadChat()).then(update)
}, 3000)
update()
