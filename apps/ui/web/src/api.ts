/** The gateway's JSON API and event socket, with the token from the URL the node printed. */
const params = new URLSearchParams(location.search)
const fromUrl = params.get('token')
if (fromUrl) sessionStorage.setItem('baran-token', fromUrl)
export const token = fromUrl ?? sessionStorage.getItem('baran-token') ?? ''

/** An error the gateway or an actor answered: code and message, shown to the person as is. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export async function call<T = unknown>(name: string, body?: unknown): Promise<T> {
  let res: Response
  try {
    res = await fetch(`./api/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-baran-token': token },
      body: body === undefined ? '' : JSON.stringify(body),
    })
  } catch (e) {
    throw new ApiError('unreachable', `the gateway does not answer (${(e as Error).message})`)
  }
  let json: { error?: { code?: string; message?: string } } | null
  try {
    json = (await res.json()) as typeof json
  } catch {
    throw new ApiError('bad_reply', `the gateway answered ${res.status} without JSON`)
  }
  if (!res.ok || json?.error) throw new ApiError(json?.error?.code ?? String(res.status), json?.error?.message ?? res.statusText)
  return json as T
}

/** A WebSocket that reconnects (bounded back-off) when the gateway or the node goes away. */
export function connectEvents(onMessage: (m: { type: string; [k: string]: unknown }) => void, onState: (open: boolean) => void): void {
  let delay = 250
  const open = () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`)
    ws.onopen = () => {
      delay = 250
      onState(true)
    }
    ws.onmessage = (e) => {
      try {
        onMessage(JSON.parse(String(e.data)) as { type: string; [k: string]: unknown })
      } catch {
        // a malformed frame is dropped, never a blank page
      }
    }
    ws.onclose = () => {
      onState(false)
      setTimeout(open, delay)
      delay = Math.min(delay * 2, 5000)
    }
  }
  open()
}
