/**
 * Bearer calls the extension makes to the gateway (§2.7, §2.10, /v1/me, health), pure over an
 * injected fetch. Every body is parsed with the shared zod schemas; a 401 with
 * `x-should-retry: false` is reported so the session manager can sign out.
 */
import { z } from 'zod';
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
    if (auth && !token) throw new GatewayError('UNAUTHORIZED', 401, 'not signed in');
    let res: Response;
    try {
      res = await this.deps.fetch(this.deps.baseUrl().replace(/\/+$/, '') + path, {
        headers: { accept: 'application/json', ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new GatewayError('UNREACHABLE', 0, `could not reach the gateway: ${(err as Error).message}`);
    }
    if (res.status === 401) {
      if (token && res.headers.get('x-should-retry') === 'false') {
        this.deps.onRejected?.(token);
        throw new GatewayError('REJECTED', 401, 'the gateway ended this session');
      }
      throw new GatewayError('UNAUTHORIZED', 401, 'the gateway refused the session');
    }
    return res;
  }

  async usage(): Promise<UsageResponse | null> {
    const res = await this.get('/api/oauth/usage');
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, `usage answered ${res.status}`);
    const parsed = usageResponseSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new GatewayError('BAD_RESPONSE', res.status, 'usage response does not match the protocol');
    return parsed.data;
  }

  /** The caller's latest requests with their charges; null from a gateway without the endpoint. */
  async myRequests(limit = 20): Promise<MyRequestsResponse | null> {
    const res = await this.get(`/v1/me/requests?limit=${limit}`);
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, `/v1/me/requests answered ${res.status}`);
    const parsed = myRequestsResponseSchema.safeParse(await res.json().catch(() => null));
    return parsed.success ? parsed.data : null;
  }

  async me(): Promise<Me | null> {
    const res = await this.get('/v1/me');
    if (res.status === 404) return null;
    if (!res.ok) throw new GatewayError('HTTP', res.status, `/v1/me answered ${res.status}`);
    const parsed = meSchema.safeParse(await res.json().catch(() => null));
    return parsed.success ? parsed.data : null;
  }

  /** `unchanged` on 304, `none` on 404 (no policy for this user: distinct from an empty one). */
  async managedSettings(etag: string | null): Promise<{ kind: 'changed'; envelope: ManagedSettingsEnvelope; etag: string | null } | { kind: 'unchanged' } | { kind: 'none' }> {
    const res = await this.get('/managed/settings', etag ? { 'if-none-match': etag } : {});
    if (res.status === 304) return { kind: 'unchanged' };
    if (res.status === 404) return { kind: 'none' };
    if (!res.ok) throw new GatewayError('HTTP', res.status, `managed settings answered ${res.status}`);
    const parsed = managedSettingsEnvelopeSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new GatewayError('BAD_RESPONSE', res.status, 'managed settings response lacks {uuid, checksum, settings}');
    return { kind: 'changed', envelope: parsed.data, etag: res.headers.get('etag') ?? `"${parsed.data.checksum}"` };
  }

  async health(): Promise<{ reachable: boolean; ready: boolean | null; detail: string }> {
    try {
      const live = await this.get('/healthz', {}, false);
      const ready = await this.get('/readyz', {}, false).catch(() => undefined);
      return {
        reachable: live.ok,
        ready: ready ? ready.ok : null,
        detail: ready && !ready.ok ? `not ready (${ready.status}): ${(await ready.text()).slice(0, 200)}` : live.ok ? 'healthy' : `health check answered ${live.status}`,
      };
    } catch (err) {
      return { reachable: false, ready: null, detail: (err as Error).message };
    }
  }
}
