/**
 * Bearer calls the extension makes to the gateway (§2.7, §2.10, /v1/me, health), pure over an
 * injected fetch. Every body is parsed with the shared zod schemas; a 401 with
 * `x-should-retry: false` is reported so the session manager can sign out.
 */
import { z } from 'zod';
import { httpSentence, unreachableSentence } from './reach-error';
import { managedSettingsEnvelopeSchema, type ManagedSettingsEnvelope } from '../../../gateway-server/src/protocol/settings';
import { usageResponseSchema, type UsageResponse } from '../../../gateway-server/src/protocol/usage';
import { myRequestsResponseSchema, type MyRequestsResponse } from '../../../gateway-server/src/protocol/me';

export class GatewayError extends Error {
  constructor(
    readonly code: 'UNREACHABLE' | 'REJECTED' | 'UNAUTHORIZED' | 'BAD_RESPONSE' | 'HTTP',
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

/**
 * `/v1/me` as far as the extension needs it. Lenient on purpose: gateways add fields, and one
 * without the route (Anthropic's own) answers 404, which means "unknown", not an error.
 */
export const meSchema = z
  .object({
    sub: z.string().optional(),
    email: z.string().nullable().optional(),
    name: z.string().nullable().optional(),
    groups: z.array(z.string()).optional(),
    policy: z.union([z.string(), z.object({ name: z.string().nullable().optional() }).passthrough()]).nullable().optional(),
    models: z.array(z.union([z.string(), z.object({ id: z.string() }).passthrough()])).optional(),
    allowed_models: z.array(z.union([z.string(), z.object({ id: z.string() }).passthrough()])).optional(),
    /** Tollgate's name (gateway-server/src/protocol/me.ts); the others are tolerated for compatible gateways. */
    available_models: z.array(z.union([z.string(), z.object({ id: z.string() }).passthrough()])).optional(),
    vscode_settings: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .passthrough();
export type Me = z.infer<typeof meSchema>;

export function meModels(me: Me): string[] {
  return (me.available_models ?? me.allowed_models ?? me.models ?? []).map((m) => (typeof m === 'string' ? m : m.id));
}
export function mePolicyName(me: Me): string | null {
  if (typeof me.policy === 'string') return me.policy;
  return me.policy?.name ?? null;
}

export interface GatewayClientDeps {
  fetch: typeof fetch;
  baseUrl: () => string;
  token: () => Promise<string | undefined>;
  onRejected?: (token: string) => void;
}

export class GatewayClient {
  constructor(private readonly deps: GatewayClientDeps) {}

  private async get(path: string, headers: Record<string, string> = {}, auth = true): Promise<Response> {
    const token = auth ? await this.deps.token() : undefined;
    if (auth && !token) throw new GatewayError('UNAUTHORIZED', 401, 'Not signed in. Run "Tollgate: Sign In".');
    let res: Response;
    try {
      res = await this.deps.fetch(this.deps.baseUrl().replace(/\/+$/, '') + path, {
        headers: { accept: 'application/json', ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new GatewayError('UNREACHABLE', 0, unreachableSentence(this.deps.baseUrl(), err));
    }
    if (res.status === 401) {
      if (token && res.headers.get('x-should-retry') === 'false') {
        this.deps.onRejected?.(token);
        throw new GatewayError('REJECTED', 401, 'The gateway ended this session. Sign in again to continue.');
      }
      throw new GatewayError('UNAUTHORIZED', 401, 'The gateway refused the session. Sign in again to continue.');
    }
    return res;
  }

  async usage(): Promise<UsageResponse | null> {
    const res = await this.get('/api/oauth/usage');
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, httpSentence('your usage', res.status));
    const parsed = usageResponseSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new GatewayError('BAD_RESPONSE', res.status, 'The gateway\'s usage answer is not in the expected format. Ask your gateway administrator to check its version.');
    return parsed.data;
  }

  /** The caller's latest requests with their charges; null from a gateway without the endpoint. */
  async myRequests(limit = 20): Promise<MyRequestsResponse | null> {
    const res = await this.get(`/v1/me/requests?limit=${limit}`);
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, httpSentence('your recent requests', res.status));
    const parsed = myRequestsResponseSchema.safeParse(await res.json().catch(() => null));
    return parsed.success ? parsed.data : null;
  }

  async me(): Promise<Me | null> {
    const res = await this.get('/v1/me');
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, httpSentence('your account details', res.status));
    const parsed = meSchema.safeParse(await res.json().catch(() => null));
    return parsed.success ? parsed.data : null;
  }

  /** `unchanged` on 304, `none` on 404 (no policy for this user: distinct from an empty one). */
  async managedSettings(etag: string | null): Promise<{ kind: 'changed'; envelope: ManagedSettingsEnvelope; etag: string | null } | { kind: 'unchanged' } | { kind: 'none' }> {
    const res = await this.get('/managed/settings', etag ? { 'if-none-match': etag } : {});
    if (res.status === 304) return { kind: 'unchanged' };
    if (res.status === 404) return { kind: 'none' };
    if (!res.ok) throw new GatewayError('HTTP', res.status, httpSentence('your managed settings', res.status));
    const parsed = managedSettingsEnvelopeSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new GatewayError('BAD_RESPONSE', res.status, 'The gateway\'s managed settings are not in the expected format. Ask your gateway administrator to check its version.');
    return { kind: 'changed', envelope: parsed.data, etag: res.headers.get('etag') ?? `"${parsed.data.checksum}"` };
  }

  async health(): Promise<{ reachable: boolean; ready: boolean | null; detail: string }> {
    try {
      const live = await this.get('/healthz', {}, false);
      const ready = await this.get('/readyz', {}, false).catch(() => undefined);
      return {
        reachable: live.ok,
        ready: ready ? ready.ok : null,
        detail: ready && !ready.ok ? `The gateway is up but not ready to serve requests (HTTP ${ready.status}). Tollgate checks again every minute.` : live.ok ? 'Healthy.' : httpSentence('its health check', live.status),
      };
    } catch (err) {
      return { reachable: false, ready: null, detail: (err as Error).message };
    }
  }
}
