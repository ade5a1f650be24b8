/**
 * Bearer routes of the policy feature: GET /managed/settings (gateway-protocol.md §2.7),
 * GET /v1/models (§2.8), GET /managed/codex (ours, for Codex), GET /user/bootstrap (Claude Desktop, spec §3) and GET /v1/me (ours,
 * docs/policy.md).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GATEWAY_VERSION } from '../version';
import type { BearerAuthenticator } from '../auth/bearer';
import type { Principal } from '../auth/session-token';
import { GatewayError } from '../errors';
import type { ManagedSettingsEnvelope } from '../protocol/settings';
import type { ManagedCodex } from '../protocol/codex';
import { modelsQuerySchema, type ModelsList } from '../protocol/models';
import type { MeResponse } from '../protocol/me';
import type { PolicySet } from './policy-set';
import { ifNoneMatchTags, paginate } from './http-helpers';
import type { GatewayEvent } from '../feature';
import { desktopBootstrap } from './desktop-bootstrap';

const EPOCH = '1970-01-01T00:00:00Z';

export interface PolicyRouteOptions {
  publicUrl: string;
  relaysTelemetry: boolean;
  sessionTtlSeconds: number;
  /** `admin.admin_groups`: the `x-gateway-spend-admin` header tells Desktop whether to show spend administration. */
  adminGroups: readonly string[];
  now(): number;
  emit(e: GatewayEvent): Promise<void>;
}

function authenticate(auth: BearerAuthenticator, req: FastifyRequest): Principal {
  const h = req.headers.authorization;
  return auth.authenticate(Array.isArray(h) ? h[0] : h);
}

export async function policyRoutes(app: FastifyInstance, opts: { auth: BearerAuthenticator; policies: PolicySet } & PolicyRouteOptions): Promise<void> {
  const { auth, policies, now } = opts;
  /** An audit event for the caller of `req`. */
  const record = (req: FastifyRequest, principal: Principal, e: Pick<GatewayEvent, 'name' | 'outcome' | 'reason' | 'detail'>) =>
    opts.emit({ ...e, at: new Date(now()), requestId: req.id, principal: { sub: principal.sub, email: principal.email, groups: principal.groups } });

  app.get('/managed/settings', async (req, reply) => {
    const principal = authenticate(auth, req);
    reply.header('x-cc-gateway-version', GATEWAY_VERSION);
    reply.header('vary', 'Authorization');
    const policy = policies.select(principal);
    if (!policy) throw new GatewayError('NOT_FOUND', 'no managed settings policy applies to your account');
    reply.header('etag', `"${policy.checksum}"`);
    const notModified = ifNoneMatchTags(req.headers['if-none-match']).includes(policy.checksum);
    await record(req, principal, {
      name: 'managed.serve',
      outcome: 'ok',
      detail: { policy: policy.label, policy_index: policy.index, checksum: policy.checksum, not_modified: notModified },
    });
    if (notModified) return reply.code(304).send();
    const body: ManagedSettingsEnvelope = { uuid: policy.checksum, checksum: policy.checksum, settings: policy.settings };
    return reply.type('application/json').send(body);
  });

  /**
   * One body for every client: Anthropic's list fields (Claude Code, unchanged), OpenAI's
   * `object: "list"` with `object`/`created`/`owned_by` on each entry (OpenAI SDKs), and Codex's
   * `models: []`, which keeps Codex on its bundled catalogue without an error line. The caller's
   * OpenAI-family models (codex.availableModels served by an OpenAI upstream) are listed only to
   * clients that are not Anthropic's (no `anthropic-version` header), so Claude Code never sees them.
   */
  app.get('/v1/models', async (req, reply) => {
    const principal = authenticate(auth, req);
    const q = modelsQuerySchema.safeParse(req.query ?? {});
    if (!q.success) throw new GatewayError('INVALID_REQUEST', `invalid query: ${q.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    const policy = policies.select(principal) ?? policies.unmatched;
    const { page, hasMore } = paginate(policy.models, q.data);
    const data: ModelsList['data'] = page.map((m) => ({
      type: 'model' as const,
      id: m.id,
      display_name: m.displayName,
      created_at: m.createdAt,
      ...(m.maxInputTokens ? { max_input_tokens: m.maxInputTokens } : {}),
      object: 'model',
      created: Math.floor(Date.parse(m.createdAt) / 1000),
      owned_by: 'anthropic',
    }));
    if (req.headers['anthropic-version'] === undefined) {
      for (const id of policies.openaiModels(principal)) data.push({ type: 'model', id, display_name: id, created_at: EPOCH, object: 'model', created: 0, owned_by: 'openai' });
    }
    const body: ModelsList & { object: 'list'; models: [] } = {
      object: 'list',
      data,
      has_more: hasMore,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      models: [],
    };
    return reply.send(body);
  });

  /** The caller's `codex:` block (GET /managed/codex), with the same ETag/304 rules as /managed/settings. */
  app.get('/managed/codex', async (req, reply) => {
    const principal = authenticate(auth, req);
    reply.header('vary', 'Authorization');
    const policy = policies.select(principal) ?? policies.unmatched;
    const c = policy.codex;
    reply.header('etag', `"${c.checksum}"`);
    const notModified = ifNoneMatchTags(req.headers['if-none-match']).includes(c.checksum);
    await record(req, principal, { name: 'managed.codex.serve', outcome: 'ok', detail: { policy: policy.label, checksum: c.checksum, not_modified: notModified } });
    if (notModified) return reply.code(304).send();
    const body: ManagedCodex = { checksum: c.checksum, availableModels: [...c.availableModels], config: c.config, requirements: c.requirements };
    return reply.header('cache-control', 'no-cache').type('application/json').send(body);
  });

  app.get('/user/bootstrap', async (req, reply) => {
    const principal = authenticate(auth, req);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const result = desktopBootstrap(policies, principal, {
      publicUrl: opts.publicUrl,
      relaysTelemetry: opts.relaysTelemetry,
      expiresAt: Math.floor(now() / 1000) + opts.sessionTtlSeconds,
    });
    if (!result.ok) {
      await record(req, principal, { name: 'desktop_bootstrap.denied', outcome: 'denied', reason: result.reason });
      throw new GatewayError('NOT_FOUND', result.message);
    }
    await record(req, principal, { name: 'desktop_bootstrap.serve', outcome: 'ok', detail: { policy: result.policy.label, policy_index: result.policy.index } });
    const admin = principal.groups.some((g) => opts.adminGroups.includes(g));
    return reply.header('x-gateway-spend-admin', String(admin)).send(result.body);
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

