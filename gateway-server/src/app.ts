/**
 * buildApp(deps): the gateway as a Fastify instance, given its collaborators as a plain object.
 * It registers plugins and routes and nothing else; server.ts wires real collaborators and
 * listens. Tests call buildApp with real PostgreSQL/PGlite and loopback upstreams.
 */
import { renderProtocolPage } from './protocol-page';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Config } from './config/load';
import type { Db } from './store/db';
import { GatewayError } from './errors';
import { BearerAuthenticator, type RevocationCheck } from './auth/bearer';
import { SessionTokens } from './auth/session-token';
import { familyOf, type Upstream } from './routing/upstream';
import { buildUpstreams } from './routing/build';
import type { RouteObserver } from './routing/failover';
import { inferenceRoutes } from './inference/pipeline';
import { anthropicMessages } from './inference/families/anthropic-messages';
import { openaiResponses } from './inference/families/openai-responses';
import { admitEverything, type InferenceHooks, type InferenceObserver, type ModelAccess, type SpendGate } from './inference/hooks';
import type { Clock, Feature, FeatureContext, FeatureName } from './feature';
import { createIdentityFeature } from './auth/feature';
import { createPolicyFeature } from './policy/feature';
import { createRoutingFeature } from './routing/feature';
import { createSpendFeature } from './spend/feature';
import { createAuditFeature } from './audit/feature';
import { createTelemetryFeature } from './telemetry/feature';
import { createConsoleFeature } from './console/feature';
import { checkRequestText } from './edge/input-text';
import { edgeServerOptions } from './edge/server-options';
import { errorHandler, installExpectationHandler, sendError } from './edge/error-handler';
import { guardBodyIdle } from './edge/client-timeouts';
import { registerNetworkGate } from './access/network-hook';
import { HSTS, httpsOptions, watchTlsFiles } from './listen/tls';

export type { Clock } from './feature';
export const systemClock: Clock = { now: () => Date.now() };

export interface AppDeps {
  config: Config;
  db: Db;
  clock?: Clock;
  /** Upstream adapters in failover order; built from config when absent. */
  upstreams?: Upstream[];
  fetch?: typeof fetch;
  logger?: FastifyServerOptions['logger'];
  /** Feature seams; each defaults to a permissive implementation. */
  access?: ModelAccess;
  spend?: SpendGate;
  observers?: InferenceObserver[];
  revocations?: RevocationCheck;
  routeObserver?: RouteObserver;
  /** Serve on an existing server (server.ts: the socket the front door already listens on). */
  serverFactory?: FastifyHttpOptions<Server>['serverFactory'];
}

export interface GatewayState {
  draining: boolean;
  /** Resolved when the last in-flight request finishes after draining starts. */
  inFlight: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    gateway: {
      config: Config;
      db: Db;
      clock: Clock;
      tokens: SessionTokens;
      auth: BearerAuthenticator;
      upstreams: Upstream[];
      state: GatewayState;
    };
  }
}

export { GATEWAY_VERSION } from './version';
import { GATEWAY_VERSION } from './version';
import { isStoreUnreachableError } from './store/health';
import { guardCounts } from './process-guards';

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.headers["x-claude-code-managed-settings-checksum"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.device_code',
  '*.client_secret',
  '*.jwt_secret',
  '*.api_key',
  '*.secret_access_key',
];

export function defaultLoggerOptions(level = process.env.TOLLGATE_LOG_LEVEL ?? 'info'): FastifyServerOptions['logger'] {
  return { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
}

/**
 * `req.log`, built on first use. Fastify gives every request a pino child logger bound to its
 * request ID; with the wildcard redact paths above, building one runs the redaction serialiser
 * over the bindings: ~3 KB of garbage and a few microseconds per request, for a logger that
 * almost no request uses (the inference path logs through the app logger; request logging is
 * off). Lines logged through it are unchanged: the real child is created on the first call.
 */
type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

export class LazyRequestLogger implements FastifyBaseLogger {
  private child_: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings_: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private get real(): FastifyBaseLogger {
    return (this.child_ ??= this.parent.child(this.bindings_, this.opts));
  }
  get level(): string {
    return this.child_?.level ?? this.opts.level ?? this.parent.level;
  }
  set level(level: string) {
    this.real.level = level;
  }
  fatal(...args: unknown[]): void {
    (this.real.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.real.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.real.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.real.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.real.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.real.trace as (...a: unknown[]) => void)(...args);
  }
  silent(...args: unknown[]): void {
    (this.real.silent as (...a: unknown[]) => void)(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

/**
 * Fastify's server options, one place: the app and the front door that answers while the store
 * is unreachable (front-door.ts) serve on the same socket (server.ts builds it from these) and
 * must behave the same (limits, client timeouts, TLS, proxies, edge error handlers).
 */
export function fastifyOptions(config: Config, logger: FastifyServerOptions['logger']): FastifyHttpOptions<Server> {
  const edge = edgeServerOptions(config);
  const tls = httpsOptions(config);
  return {
    ...edge,
    // https.createServer takes Node's http server options too: the client timeouts apply to TLS listeners.
    ...(tls ? { https: { ...edge.http, ...tls } } : {}),
    logger: logger ?? false,
    // One structured line per inference comes from the inference path; per-request access logs cost CPU.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent, bindings, opts) => new LazyRequestLogger(parent, bindings, opts),
    requestIdHeader: false,
    genReqId: (req) => {
      const client = req.headers['x-client-request-id'];
      return typeof client === 'string' && REQUEST_ID_RE.test(client) ? client : randomUUID();
    },
  } as FastifyHttpOptions<Server>;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db } = deps;
  const clock = deps.clock ?? systemClock;
  const tls = httpsOptions(config);
  const app = Fastify({ ...fastifyOptions(config, deps.logger), ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}) });
  installExpectationHandler(app);

  // Every route as registered, for GET /protocol (HEAD twins of GET routes left out).
  const registered: string[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') registered.push(`${m} ${r.url}`);
  });

  const tokens = new SessionTokens(
    config.session.jwt_secret,
    config.publicUrl,
    Math.round(config.session.ttl_hours * 3600),
    clock.now,
    config.oidc?.clock_skew_seconds ?? 0,
  );
  const upstreams = deps.upstreams ?? (await buildUpstreams(config));

  // Features in dependency order: later ones may read earlier ones through ctx.features.
  const features: Feature[] = [];
  const ctx: FeatureContext = {
    config,
    db,
    clock,
    tokens,
    upstreams,
    fetch: deps.fetch ?? fetch,
    log: app.log,
    features: {},
    async emit(event) {
      for (const f of features) {
        if (!f.onEvent) continue;
        try {
          await f.onEvent(event);
        } catch (err) {
          app.log.error({ err, event: event.name }, 'event handler failed');
        }
      }
    },
  };
  const creators: [FeatureName, (c: FeatureContext) => Promise<Feature>][] = [
    ['identity', createIdentityFeature],
    ['routing', createRoutingFeature],
    ['policy', createPolicyFeature],
    ['spend', createSpendFeature],
    ['audit', createAuditFeature],
    ['console', createConsoleFeature],
    ['telemetry', createTelemetryFeature],
  ];
  try {
    for (const [name, create] of creators) {
      const f = await create(ctx);
      ctx.features[name] = f;
      features.push(f);
    }
  } catch (err) {
    for (const f of features) await f.close?.().catch(() => {});
    throw err;
  }
  // One write per request: the audit writer's transactions carry spend settlements.
  const carrier = features.find((f) => f.carryWrites);
  for (const f of features) if (f.writes && carrier) carrier.carryWrites!(f.writes);
  app.addHook('onClose', async () => {
    for (const f of [...features].reverse()) await f.close?.().catch((err) => app.log.error({ err }, 'feature close failed'));
  });
  const auth = new BearerAuthenticator(tokens, deps.revocations ?? ctx.features.identity?.revocations);
  ctx.auth = auth;
  const state: GatewayState = { draining: false, inFlight: 0 };
  const refusers = features.filter((f) => f.refuse);
  app.decorate('gateway', { config, db, clock, tokens, auth, upstreams, state });

  const { max_url_length } = config.limits;
  const bodyIdleMs = config.timeouts.client_body_idle_ms;
  if (tls) watchTlsFiles(app, config, tls);
  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (tls) reply.header('strict-transport-security', HSTS);
    reply.header('x-request-id', req.id);
    if (req.url.length > max_url_length) throw new GatewayError('URI_TOO_LONG');
    guardBodyIdle(req, reply, bodyIdleMs);
    if (state.draining && req.url !== '/healthz') {
      reply.header('connection', 'close');
      throw new GatewayError('DRAINING');
    }
    if (req.url !== '/healthz' && req.url !== '/readyz') {
      for (const f of refusers) {
        const refusal = f.refuse!();
        if (refusal) throw refusal;
      }
    }
    state.inFlight++;
    // 'close' fires for hijacked (streamed) replies too, unlike onResponse.
    reply.raw.once('close', () => {
      state.inFlight--;
    });
  });

  registerNetworkGate(app, config, ctx.emit, clock.now);

  // Text PostgreSQL cannot store is refused at the edge, before any route reads it.
  app.addHook('preHandler', (req, _reply, done) => {
    // Callback style: no promise per request on the hot path.
    try {
      checkRequestText(req);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });

  app.setErrorHandler(errorHandler);

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // Never echo a long path back.
    const shown = path.length > 120 ? `${path.slice(0, 120)}…` : path;
    sendError(req, reply, new GatewayError('NOT_FOUND', `no route for ${req.method} ${shown}`));
  });

  app.get('/healthz', async (req, reply) => {
    // Live whatever the store does: restarting the process would not bring PostgreSQL back.
    if (!('detail' in (req.query as object))) return reply.type('text/plain').send('ok');
    return reply.send(healthDetail(db, features));
  });
  const graceMs = config.store.readiness_grace_seconds * 1000;
  app.get('/readyz', async (_req, reply) => {
    const ok = await db.ping(2000);
    if (ok) return reply.type('text/plain').send('ready');
    // store.readiness_grace_seconds: stay in the load balancer through a short failover (the
    // spool and held spend slices carry requests meanwhile); then report the outage.
    const downMs = db.health?.downForMs() ?? Infinity;
    if (downMs < graceMs) return reply.type('text/plain').send(`ready (store unreachable for ${Math.round(downMs / 1000)} s, within store.readiness_grace_seconds)`);
    return reply.code(503).type('text/plain').send('store unavailable');
  });
  app.get('/protocol', async (_req, reply) =>
    reply
      .type('text/markdown; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(renderProtocolPage({ version: GATEWAY_VERSION, publicUrl: config.publicUrl, routes: registered })),
  );
  app.get('/', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(
        `<!doctype html><meta charset="utf-8"><title>Tollgate gateway</title><body style="font-family:system-ui;max-width:40em;margin:3em auto">` +
          `<h1>Tollgate gateway ${GATEWAY_VERSION}</h1><p>This is your organisation's gateway for AI coding agents. ` +
          `Point Claude Code at <code>${escapeHtml(config.publicUrl)}</code> and run <code>/login</code>.</p></body>`,
      ),
  );

  const hooks: InferenceHooks = {
    access: deps.access ?? ctx.features.policy?.access ?? passThroughAccess(upstreams),
    spend: deps.spend ?? ctx.features.spend?.spend ?? admitEverything,
    observers: deps.observers ?? features.flatMap((f) => f.observers ?? []),
  };
  // Each API family's inference routes live in their own encapsulated context (raw-body parsers, bearer hook).
  for (const family of [anthropicMessages, openaiResponses]) {
    await app.register(inferenceRoutes, {
      family,
      auth,
      hooks,
      maxRequestBytes: config.limits.max_request_bytes,
      routeObserver: deps.routeObserver ?? ctx.features.routing?.routeObserver,
      now: clock.now,
    });
  }
  // Codex with supports_websockets tries a WebSocket first: 426 makes it fall back to HTTP at once
  // (404/405 cost it seven retries). Node answers an unhandled Upgrade as a plain request.
  app.get('/v1/responses', async () => {
    throw new GatewayError('WEBSOCKET_NOT_SUPPORTED');
  });
  for (const f of features) {
    if (f.routes) {
      const routes = f.routes;
      await app.register(async (scope) => routes(scope, { ...ctx, auth }));
    }
  }

  return app;
}

/** Without a model catalogue: every upstream serves every model under the client's ID. */
export function passThroughAccess(upstreams: Upstream[]): ModelAccess {
  const byFamily = (openai: boolean) => upstreams.filter((u) => (familyOf(u) === 'openai') === openai);
  const claude = byFamily(false);
  const openai = byFamily(true);
  return { resolve: (_p, model, operation) => (operation === 'responses' ? openai : claude).map((upstream) => ({ upstream, upstreamModel: model })) };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** GET /healthz?detail: what an operator needs during an outage (never secrets). */
function healthDetail(db: Db, features: Feature[]) {
  const audit = features.find((f) => 'writer' in f) as
    | { writer?: { spool?: { backlog: number; size: number; full: boolean; spooled: number; replayed: number } }; sinks?: { shippers: { status: object }[] } }
    | undefined;
  const spool = audit?.writer?.spool;
  return {
    status: 'ok',
    store: { reachable: db.health?.reachable ?? true, down_for_ms: db.health?.downForMs() ?? 0, outages: db.health?.outages ?? 0 },
    // Per sink: whether this replica ships to it, lag in rows, the last failure (never a token).
    audit_sinks: (audit?.sinks?.shippers ?? []).map((s) => s.status),
    audit_spool: spool ? { backlog_records: spool.backlog, bytes: spool.size, full: spool.full, spooled_records: spool.spooled, replayed_records: spool.replayed } : null,
    process: guardCounts(),
  };
}
