/**
 * Contact requests in the chat's side bar: conversations started by accounts that are not contacts, each with
 * Accept (add the contact), Decline (hide it until the next message) and Block (nothing more from them).
 */
import { html, nothing, type TemplateResult } from 'lit-html'
import { call } from './api.ts'
import type { ContactRequest } from './types.ts'

/** The pending requests (an outbox without the verb, e.g. an older node: none). */
export async function loadRequests(): Promise<ContactRequest[]> {
  return (await call<{ requests: ContactRequest[] }>('outbox.requests', {})).requests
}

export type RequestAnswer = 'accept' | 'decline' | 'block'

/** Carries out an answer; the caller reloads the chat afterwards. */
export async function answerRequest(answer: RequestAnswer, accountId: string): Promise<void> {
  if (answer === 'accept') await call('identity.addContact', { accountId })
  else if (answer === 'block') await call('identity.block', { accountId })
  if (answer !== 'accept') await call('outbox.declineRequest', { peer: accountId })
}

export function requestsView(requests: ContactRequest[], name: (id: string) => string, answer: (a: RequestAnswer, id: string) => void): TemplateResult | typeof nothing {
  if (requests.length === 0) return nothing
  return html`<h4>Requests</h4>
    <ul class="requests" data-testid="requests">
      ${requests.map(
        (r) => html`<li data-testid="request" data-account=${r.accountId}>
          <span class="name">${name(r.accountId)}</span>
          <span class="muted">${r.messages} message${r.messages === 1 ? '' : 's'}: ${r.newest.preview}</span>
          <span class="actions">
            <button data-testid="request-accept" @click=${() => answer('accept', r.accountId)}>Accept</button>
            <button data-testid="request-decline" @click=${() => answer('decline', r.accountId)}>Decline</button>
            <button data-testid="request-block" @click=${() => answer('block', r.accountId)}>Block</button>
          </span>
        </li>`,
      )}
    </ul>`
}
