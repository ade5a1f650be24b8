/**
 * Bearer routes of the policy feature: GET /managed/settings (gateway-protocol.md §2.7),
 * GET /v1/models (§2.8) and GET /v1/me (ours, docs/policy.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GATEWAY_VERSION } from '../app';
import type { BearerAuthenticator } from '../auth/bearer';
import type { Principal } from '../auth/session-token';
import { GatewayError } from '../errors';
import type { ManagedSettingsEnvelope } from '../protocol/settings';
import { modelsQuerySchema, type ModelsList } from '../protocol/models';
import type { MeResponse } from '../protocol/me';
import type { PolicySet } from './policy-set';

function authenticate(auth: BearerAuthenticator, req: FastifyRequest): Principal {
  const h = req.headers.authorization;
  return auth.authenticate(Array.isArray(h) ? h[0] : h);
}

/** Entity tags listed in If-None-Match, unquoted, weak prefix dropped (RFC 9110 §13.1.2 weak comparison). `*` means "absent" here. */
export function ifNoneMatchTags(header: string | string[] | undefined): string[] {
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return [];
  return raw
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter((t) => t && t !== '*')
    .map((t) => t.replace(/^"(.*)"$/, '$1'));
}

export async function policyRoutes(app: FastifyInstance, opts: { auth: BearerAuthenticator; policies: PolicySet }): Promise<void> {
  const { auth, policies } = opts;

  app.get('/managed/settings', async (req, reply) => {
    const principal = authenticate(auth, req);
    reply.header('x-cc-gateway-version', GATEWAY_VERSION);
    reply.header('vary', 'Authorization');
    const policy = policies.select(principal);
    if (!policy) throw new GatewayError('NOT_FOUND', 'no managed settings policy applies to your account');
    reply.header('etag', `"${policy.checksum}"`);
    if (ifNoneMatchTags(req.headers['if-none-match']).includes(policy.checksum)) return reply.code(304).send();
    const body: ManagedSettingsEnvelope = { uuid: policy.checksum, checksum: policy.checksum, settings: policy.settings };
    return reply.type('application/json').send(body);
  });

  app.get('/v1/models', async (req, reply) => {
    const principal = authenticate(auth, req);
    const q = modelsQuerySchema.safeParse(req.query ?? {});
    if (!q.success) throw new GatewayError('INVALID_REQUEST', `invalid query: ${q.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const models = (policies.select(principal) ?? policies.unmatched).models;
    const { page, hasMore } = paginate(models, q.data);
    const body: ModelsList = {
      data: page.map((m) => ({
        type: 'model' as const,
        id: m.id,
        display_name: m.displayName,
        created_at: m.createdAt,
        ...(m.maxInputTokens ? { max_input_tokens: m.maxInputTokens } : {}),
      })),
      has_more: hasMore,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    };
    return reply.send(body);
  });

  app.get('/v1/me', async (req, reply) => {
    const principal = authenticate(auth, req);
    const policy = policies.select(principal);
    const models = (policy ?? policies.unmatched).models;
    const body: MeResponse = {
      sub: principal.sub,
      email: principal.email ?? null,
      name: principal.name ?? null,
      groups: [...principal.groups],
      policy: { matched: !!policy, name: policy?.label ?? null, index: policy && policy.index >= 0 ? policy.index : null },
      available_models: models.map((m) => ({ id: m.id, display_name: m.displayName })),
      vscode_settings: policy?.vscode ?? {},
      managed_settings_checksum: policy?.checksum ?? null,
    };
    return reply.header('cache-control', 'no-store').send(body);
  });
}

/** Anthropic list paging: `after_id` pages forward, `before_id` backward; an unknown cursor yields an empty page. */
export function paginate<T extends { id: string }>(
  items: readonly T[],
  q: { limit: number; after_id?: string; before_id?: string },
): { page: T[]; hasMore: boolean } {
  let list = items.slice();
  if (q.after_id !== undefined) {
    const i = list.findIndex((m) => m.id === q.after_id);
    list = i < 0 ? [] : list.slice(i + 1);
  }
  if (q.before_id !== undefined) {
    const i = list.findIndex((m) => m.id === q.before_id);
    list = i < 0 ? [] : list.slice(0, i);
    if (q.after_id === undefined) return { page: list.slice(-q.limit), hasMore: list.length > q.limit };
  }
  return { page: list.slice(0, q.limit), hasMore: list.length > q.limit };
}
