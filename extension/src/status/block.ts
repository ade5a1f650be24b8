/**
 * A refused agent request, said where the developer is looking (issue 19 item 2). The proxy sees
 * the gateway's reply; this turns it into a block (over cap, or blocked with the gateway's own
 * sentence) and rate-limits the notification so a retry storm is one message. Pure: no `vscode`.
 * Classification is by HTTP status and the error `type` (Anthropic) or `code` (OpenAI), never by message text.
 */
import type { BlockView } from '../../../gateway-server/src/protocol/webview';
import { formatReset } from './format';

export interface ReplyError {
  type: string;
  message: string;
  /** OpenAI's envelope (Codex) carries a code beside the type, e.g. `insufficient_quota`. */
  code?: string;
}

/** `{type:"error", error:{type, message}}` from the first bytes of a non-2xx reply, if it is one. */
export function parseErrorBody(head: string): ReplyError | undefined {
  try {
    const body = JSON.parse(head) as { error?: { type?: unknown; message?: unknown; code?: unknown } };
    const e = body?.error;
    if (e && typeof e.type === 'string' && typeof e.message === 'string') return { type: e.type, message: e.message.slice(0, 500), ...(typeof e.code === 'string' ? { code: e.code } : {}) };
  } catch {
    // A truncated or non-JSON body: no reason to show beyond the status.
  }
  return undefined;
}

/** The gateway's words as a sentence: capital first letter, final full stop. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const s = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

const STATUS_WORDS: Record<number, string> = { 400: 'The gateway refused the request', 403: 'The gateway does not allow this request', 429: 'The gateway is limiting requests', 502: 'The gateway could not be reached', 503: 'The gateway is unavailable', 504: 'The gateway timed out' };

/**
 * A block from one proxied reply, or undefined when the reply is not a refusal the developer must
 * hear about: success, or 401 (the session manager signs out and says so itself).
 */
export function blockFromReply(status: number, error: ReplyError | undefined, at: Date, resetAt: Date | null = null): BlockView | undefined {
  if (status < 400 || status === 401) return undefined;
  // Anthropic's envelope says billing_error; OpenAI's (Codex) says insufficient_quota, the answer Codex stops at.
  const overCap = status === 429 && (error?.type === 'billing_error' || error?.code === 'insufficient_quota' || error?.type === 'insufficient_quota');
  const reason = error ? sentence(error.message) : `${STATUS_WORDS[status] ?? `The gateway answered ${status}`}.`;
  return { kind: overCap ? 'overCap' : 'blocked', status, reason, at: at.toISOString(), until: resetAt ? resetAt.toISOString() : null };
}

/** The notification text: what happened, the gateway's reason, and when it lifts. */
export function blockMessage(b: BlockView, now = new Date()): string {
  const lifts = b.until ? ` Requests work again after ${formatReset(b.until, now)}.` : '';
  const head = b.kind === 'overCap' ? 'Tollgate blocked an agent request: you are over your spend cap.' : 'Tollgate blocked an agent request.';
  return `${head} ${b.reason}${lifts}`;
}

/** One notification per distinct block per window of time: a retry storm is one message. */
export class NoticeLimiter {
  private last = new Map<string, number>();

  constructor(private readonly windowMs = 5 * 60_000) {}

  shouldNotify(b: BlockView, nowMs: number): boolean {
    const key = `${b.kind}\u0000${b.status}\u0000${b.reason}`;
    const prev = this.last.get(key);
    if (prev !== undefined && nowMs - prev < this.windowMs) return false;
    this.last.set(key, nowMs);
    return true;
  }
}

/** Overlay a current block on the status view; a cap block past its reset no longer applies. */
export function applyBlock<V extends { text: string; severity: string; tooltip: string }>(view: V, b: BlockView | undefined, now = new Date()): V | (Omit<V, 'severity'> & { severity: 'error' }) {
  if (!b || (b.until && new Date(b.until).getTime() <= now.getTime())) return view;
  const word = b.kind === 'overCap' ? 'over cap' : 'blocked';
  const text = view.text.endsWith(word) ? view.text : view.text.startsWith('$') ? `${view.text} · ${word}` : word;
  return { ...view, text, severity: 'error', tooltip: `${blockMessage(b, now)}\nClick for the Tollgate menu.` };
}
