/**
 * The probes behind `tollgate-gateway check`. Each answers one question an operator would
 * otherwise learn from a failed boot or a failed first request: is the database reachable,
 * new enough and migratable; does the IdP publish discovery; is every upstream reachable and
 * (where it costs nothing) are its credentials accepted. Nothing here writes anything or
 * spends tokens.
 */
import { randomBytes } from 'node:crypto';
import { idpDispatcher } from '../auth/idp-fetch';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import pg from 'pg';
import { Agent, request } from 'undici';
import { ConfigError, type Config, type ResolvedUpstream } from '../config/load';
import { buildPolicySet } from '../policy/feature';
import { isLoopback } from '../auth/dev-idp';
import { httpsOptions } from '../listen/tls';
import { PILOT_PLACEHOLDERS } from './pilot-template';
import { buildUpstreams } from '../routing/build';
import type { Upstream } from '../routing/upstream';
import { MIGRATIONS } from '../store/migrations';
import { commentCutStrings } from '../config/comment-cut';
import { checkSinkLag, checkSinkReachable } from '../audit/sinks/check';

export type CheckStatus = 'ok' | 'warn' | 'fail';
export interface CheckLine {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface CheckOptions {
  timeoutMs: number;
  configPath?: string;
  /** The YAML text, to spot values a ` #` comment cut short. */
  source?: string;
}

const ANTHROPIC_VERSION = '2023-06-01';

export async function checkConfig(config: Config, opts: CheckOptions, emit: (l: CheckLine) => void): Promise<void> {
  emit({ name: 'config', status: 'ok', detail: `${opts.configPath ?? 'configuration'} is valid: ${describe(config)}` });
  for (const l of checkPlaceholders(config)) emit(l);
  for (const c of opts.source ? commentCutStrings(opts.source) : []) {
    emit({
      name: 'config',
      status: 'warn',
      detail: `${c.path} (line ${c.line}) loads as "${c.value}": the rest of the line, "${c.cut}", is a YAML comment because " #" starts one; put the whole value in double quotes`,
    });
  }
  if (config.listen.tls) emit(checkTls(config));
  for (const l of await checkBootValidation(config)) emit(l);
  for (const l of await checkDatabase(config, opts.timeoutMs)) emit(l);
  emit(await checkIdp(config, opts.timeoutMs));
  for (const u of config.upstreams) emit(await checkUpstream(u, opts.timeoutMs));
  for (const s of config.audit?.sinks ?? []) emit(await checkSinkReachable(s, opts.timeoutMs));
}

function describe(c: Config): string {
  const parts = [
    `${c.upstreams.length} upstream${c.upstreams.length === 1 ? '' : 's'}`,
    c.store.postgres_url ? 'PostgreSQL store' : 'embedded store',
    c.oidc ? 'OIDC sign-in' : 'no OIDC sign-in',
    c.admin ? 'admin API and spend caps on' : 'no admin block',
    `${c.managed.policies.length} polic${c.managed.policies.length === 1 ? 'y' : 'ies'}`,
  ];
  return parts.join(', ');
}

/** host:port/database without credentials, for output. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** What boot validates beyond the schema: upstream adapters and the compiled policies. */
export async function checkBootValidation(config: Config): Promise<CheckLine[]> {
  let upstreams: Upstream[];
  try {
    upstreams = await buildUpstreams(config);
  } catch (err) {
    return [{ name: 'upstreams', status: 'fail', detail: (err as Error).message }];
  }
  try {
    const set = buildPolicySet({ config, upstreams });
    const n = set.policies.length;
    return [
      { name: 'policies', status: 'ok', detail: n ? `${n} polic${n === 1 ? 'y compiles' : 'ies compile'}` : 'none configured: every signed-in developer may use every model' },
      ...set.warnings.map((w): CheckLine => ({ name: 'policies', status: 'warn', detail: w })),
    ];
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    return problems.map((p): CheckLine => ({ name: 'policies', status: 'fail', detail: p }));
  } finally {
    for (const u of upstreams) await u.close().catch(() => {});
  }
}

/** A one-off connection with the store's credentials and connect timeout, errors swallowed (callers report). */
function storeClient(s: Config['store'], url: string, timeoutMs: number, applicationName: string, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  const client = new pg.Client({
    connectionString: url,
    user: s.username,
    password: s.password,
    connectionTimeoutMillis: Math.min(timeoutMs, s.connect_timeout_seconds * 1000),
    application_name: applicationName,
    ...extra,
  });
  client.on('error', () => {});
  return client;
}

export async function checkDatabase(config: Config, timeoutMs: number): Promise<CheckLine[]> {
  const s = config.store;
  if (!s.postgres_url) {
    return [
      {
        name: 'database',
        status: 'warn',
        detail: `embedded store in ${s.data_dir}: one process on one machine only; set store.postgres_url for replicas`,
      },
    ];
  }
  const where = describePostgresUrl(s.postgres_url);
  const client = storeClient(s, s.postgres_url, timeoutMs, 'tollgate-gateway-check', { statement_timeout: timeoutMs });
  try {
    await client.connect();
  } catch (err) {
    return [{ name: 'database', status: 'fail', detail: `cannot connect to ${where}: ${errText(err)}` }];
  }
  try {
    const out: CheckLine[] = [];
    const { rows } = await client.query<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n");
    const num = Number(rows[0]!.n);
    out.push(
      num >= 140000
        ? { name: 'database', status: 'ok', detail: `PostgreSQL ${rows[0]!.v} at ${where}` }
        : { name: 'database', status: 'fail', detail: `PostgreSQL ${rows[0]!.v} at ${where} is older than 14, the oldest supported` },
    );
    out.push(await checkMigrations(client));
    out.push(await checkNotifications(s, client, timeoutMs));
    if (config.audit?.sinks.length) out.push(...(await checkSinkLag(client, config.audit.sinks)));
    if (s.read_url) {
      const primaryMigrated = !!(await client.query<{ t: string | null }>("SELECT to_regclass('tollgate_migrations')::text AS t")).rows[0]!.t;
      out.push(await checkReadReplica(s, timeoutMs, primaryMigrated));
    }
    return out;
  } catch (err) {
    return [{ name: 'database', status: 'fail', detail: `${where}: ${errText(err)}` }];
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Replicas learn of revocations and cap changes by LISTEN/NOTIFY. A transaction-pooling proxy on
 * the way (PgBouncer `pool_mode = transaction`, RDS Proxy) accepts LISTEN but never delivers:
 * send a notification through store.postgres_url and see whether the LISTEN connection gets it.
 */
async function checkNotifications(s: Config['store'], sender: pg.Client, timeoutMs: number): Promise<CheckLine> {
  const via = s.listen_url ? 'store.listen_url' : 'store.postgres_url';
  const listener = storeClient(s, (s.listen_url ?? s.postgres_url)!, timeoutMs, 'tollgate-gateway-check-listen');
  const channel = `tollgate_check_${randomBytes(6).toString('hex')}`;
  try {
    await listener.connect();
    const heard = new Promise<boolean>((resolve) => {
      listener.on('notification', (m) => m.channel === channel && resolve(true));
      setTimeout(() => resolve(false), Math.min(timeoutMs, 3000)).unref();
    });
    await listener.query(`LISTEN ${channel}`);
    await sender.query('SELECT pg_notify($1, $2)', [channel, 'check']);
    if (await heard) {
      return { name: 'notifications', status: 'ok', detail: `LISTEN/NOTIFY reaches the listening connection (${via}): revocations and cap changes reach every replica at once` };
    }
    return {
      name: 'notifications',
      status: 'warn',
      detail:
        `a notification sent through store.postgres_url did not reach the listening connection (${via}) within 3 s, ` +
        'as happens behind a transaction-pooling proxy: other replicas would learn of revocations and cap changes only at their periodic reload (60 s and 30 s). ' +
        'Set store.listen_url to a direct or session-pooled connection to the same database.',
    };
  } catch (err) {
    return { name: 'notifications', status: 'fail', detail: `cannot LISTEN through ${via}: ${errText(err)}` };
  } finally {
    await listener.end().catch(() => {});
  }
}

/** store.read_url: reachable, a standby of this database (not a primary), and how far behind. */
async function checkReadReplica(s: Config['store'], timeoutMs: number, primaryMigrated: boolean): Promise<CheckLine> {
  const where = describePostgresUrl(s.read_url!);
  const client = storeClient(s, s.read_url!, timeoutMs, 'tollgate-gateway-check');
  try {
    await client.connect();
    const { rows } = await client.query<{ standby: boolean; lag: number | null; migrated: string | null }>(
      "SELECT pg_is_in_recovery() AS standby, extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS lag, to_regclass('tollgate_migrations')::text AS migrated",
    );
    const r = rows[0]!;
    if (!r.standby) return { name: 'read replica', status: 'warn', detail: `${where} is not a standby (pg_is_in_recovery() is false): admin reads work but take no load off the primary` };
    if (!r.migrated && !primaryMigrated) {
      return { name: 'read replica', status: 'ok', detail: `${where} is reachable; Tollgate's tables reach it once the first boot has migrated the primary` };
    }
    if (!r.migrated) return { name: 'read replica', status: 'fail', detail: `${where} has no Tollgate tables: store.read_url must be a replica of store.postgres_url's database` };
    const lag = r.lag === null ? 'no transaction replayed yet' : `last replayed transaction ${r.lag.toFixed(1)} s ago`;
    return { name: 'read replica', status: 'ok', detail: `hot standby at ${where} (${lag}); audit queries, exports and spend summaries read from it` };
  } catch (err) {
    return { name: 'read replica', status: 'fail', detail: `cannot read from ${where}: ${errText(err)}` };
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkMigrations(client: pg.Client): Promise<CheckLine> {
  const known = new Set(MIGRATIONS.map((m) => m.version));
  const reg = await client.query<{ t: string | null }>("SELECT to_regclass('tollgate_migrations')::text AS t");
  let applied = new Set<number>();
  if (reg.rows[0]!.t) {
    const r = await client.query<{ version: number }>('SELECT version FROM tollgate_migrations');
    applied = new Set(r.rows.map((x) => Number(x.version)));
  }
  const pending = [...known].filter((v) => !applied.has(v));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (pending.length > 0) {
    const priv = await client.query<{ db: boolean; schema: boolean }>(
      "SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS db, has_schema_privilege(current_user, 'public', 'CREATE') AS schema",
    );
    if (!priv.rows[0]!.schema) {
      return {
        name: 'migrations',
        status: 'fail',
        detail: `${pending.length} migration(s) pending but the database role cannot CREATE in schema public; grant it (migrations run at boot)`,
      };
    }
  }
  const parts = [`${applied.size - unknown.length} of ${known.size} applied`];
  if (pending.length) parts.push(`${pending.length} will run at the next boot (${pending.join(', ')})`);
  if (unknown.length) parts.push(`${unknown.length} from a newer gateway version (${unknown.join(', ')}); running this version against it is safe`);
  return { name: 'migrations', status: 'ok', detail: parts.join('; ') };
}

/** listen.tls: the pair boot would load (boot refuses files that do not load). */
export function checkTls(config: Config): CheckLine {
  try {
    httpsOptions(config);
    return { name: 'tls', status: 'ok', detail: `${config.listen.tls!.cert} and its key load; the gateway serves HTTPS and re-reads them every 10 s` };
  } catch (err) {
    return { name: 'tls', status: 'fail', detail: err instanceof ConfigError ? err.problems.join(' ') : (err as Error).message };
  }
}

/** Values `init` writes as placeholders: a config still holding one would boot and fail at sign-in. */
export function checkPlaceholders(config: Config): CheckLine[] {
  const P = PILOT_PLACEHOLDERS;
  const found: [string, string][] = [];
  if (config.listen.public_url?.replace(/\/+$/, '') === P.publicUrl) found.push(['listen.public_url', P.publicUrl]);
  if (config.oidc?.issuer.replace(/\/+$/, '') === P.issuer) found.push(['oidc.issuer', P.issuer]);
  if (config.oidc?.client_id === P.clientId) found.push(['oidc.client_id', P.clientId]);
  if (config.oidc?.allowed_email_domains.includes(P.emailDomain)) found.push(['oidc.allowed_email_domains', P.emailDomain]);
  return found.map(([key, value]) => ({
    name: 'placeholders',
    status: 'fail',
    detail: `${key} is still init's placeholder ${value}; replace it with your organisation's value`,
  }));
}

export async function checkIdp(config: Config, timeoutMs: number): Promise<CheckLine> {
  const oidc = config.oidc;
  if (!oidc) return { name: 'idp', status: 'warn', detail: 'no oidc block: developers cannot sign in' };
  if (config.dev_idp?.enabled) return checkDevIdp(config);
  const url = oidc.discovery_url ?? `${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const dispatcher = idpDispatcher(oidc, timeoutMs)!; // a timeout always yields one
  try {
    const res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, dispatcher, maxRedirections: 0 } as Parameters<typeof request>[1]);
    const text = await res.body.text();
    if (res.statusCode !== 200) return { name: 'idp', status: 'fail', detail: `GET ${url} answered HTTP ${res.statusCode}; check oidc.issuer` };
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return { name: 'idp', status: 'fail', detail: `GET ${url} did not return JSON; check oidc.issuer` };
    }
    const missing = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'].filter((k) => typeof doc[k] !== 'string');
    if (missing.length) return { name: 'idp', status: 'fail', detail: `discovery at ${url} lacks ${missing.join(', ')}` };
    const strip = (s: unknown) => String(s).replace(/\/+$/, '');
    if (strip(doc.issuer) !== strip(oidc.issuer)) {
      return { name: 'idp', status: 'fail', detail: `discovery says issuer is ${String(doc.issuer)}, config says ${oidc.issuer}; they must match exactly` };
    }
    return { name: 'idp', status: 'ok', detail: `${oidc.issuer} publishes discovery (token endpoint ${String(doc.token_endpoint)})` };
  } catch (err) {
    return { name: 'idp', status: 'fail', detail: `GET ${url}: ${errText(err)}` };
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

/** The development IdP runs inside the gateway, so there is nothing to probe before boot: check where it would run. */
function checkDevIdp(config: Config): CheckLine {
  const issuer = new URL(config.oidc!.issuer);
  if (!isLoopback(issuer.hostname) || !isLoopback(config.listen.host) || !isLoopback(new URL(config.publicUrl).hostname)) {
    return { name: 'idp', status: 'fail', detail: 'dev_idp runs only on loopback: the gateway (listen.host, public_url) and oidc.issuer must all be loopback addresses' };
  }
  const port = config.dev_idp!.port || Number(issuer.port);
  if (String(port) !== issuer.port) return { name: 'idp', status: 'fail', detail: `dev_idp.port (${port}) must match the port of oidc.issuer (${config.oidc!.issuer})` };
  return {
    name: 'idp',
    status: 'warn',
    detail: `development identity provider (dev_idp), started by the gateway on ${config.oidc!.issuer}: any password works; never in production`,
  };
}

export async function checkUpstream(u: ResolvedUpstream, timeoutMs: number): Promise<CheckLine> {
  const name = `upstream ${u.name}`;
  switch (u.provider) {
    case 'simulated':
      return { name, status: 'warn', detail: 'simulated model: canned replies, never for production' };
    case 'anthropic':
      return checkAnthropic(u, name, timeoutMs);
    case 'bedrock': {
      const base = u.base_url ?? `https://bedrock-runtime.${u.region}.amazonaws.com`;
      return tcpLine(name, base, timeoutMs, 'credentials are resolved at the first request');
    }
    case 'vertex': {
      const host = u.region === 'global' ? 'aiplatform.googleapis.com' : `${u.region}-aiplatform.googleapis.com`;
      return tcpLine(name, u.base_url ?? `https://${host}`, timeoutMs, 'credentials are resolved at the first request');
    }
    case 'openai':
      return tcpLine(name, u.base_url, timeoutMs, 'the API key is checked at the first request');
    case 'azure_openai':
      return tcpLine(name, u.endpoint, timeoutMs, u.auth.entra_id ? 'the Entra ID token is obtained at the first request' : 'the API key is checked at the first request');
  }
}

/** GET /v1/models costs no tokens and tells a rejected key from a reachable host. */
async function checkAnthropic(u: Extract<ResolvedUpstream, { provider: 'anthropic' }>, name: string, timeoutMs: number): Promise<CheckLine> {
  const base = (u.base_url ?? 'https://api.anthropic.com').replace(/\/+$/, '');
  const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION, 'user-agent': 'tollgate-gateway-check' };
  const withKey = !!(u.auth.api_key || u.auth.oauth_token);
  if (u.auth.api_key) headers['x-api-key'] = u.auth.api_key;
  else if (u.auth.oauth_token) headers.authorization = `Bearer ${u.auth.oauth_token}`;
  const dispatcher = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const res = await request(`${base}/v1/models?limit=1`, { method: 'GET', headers, dispatcher });
    await res.body.dump();
    const s = res.statusCode;
    if (withKey && (s === 401 || s === 403)) {
      return { name, status: 'fail', detail: `${base} is reachable but rejected the credentials (HTTP ${s}); check upstreams[].auth` };
    }
    if (s >= 200 && s < 300) return { name, status: 'ok', detail: `${base} is reachable${withKey ? ' and accepted the credentials' : ''}` };
    return { name, status: 'ok', detail: `${base} is reachable (HTTP ${s} to an unbilled probe)` };
  } catch (err) {
    return { name, status: 'fail', detail: `${base}: ${errText(err)}` };
  } finally {
    await dispatcher.close().catch(() => {});
  }
}

async function tcpLine(name: string, base: string, timeoutMs: number, note: string): Promise<CheckLine> {
  const u = new URL(base);
  const tls = u.protocol === 'https:';
  const port = Number(u.port || (tls ? 443 : 80));
  try {
    await probeConnect(u.hostname, port, tls, timeoutMs);
    return { name, status: 'ok', detail: `${u.host} accepts ${tls ? 'TLS' : 'TCP'} connections (${note})` };
  } catch (err) {
    return { name, status: 'fail', detail: `${u.host}: ${errText(err)}` };
  }
}

export function probeConnect(host: string, port: number, tls: boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.once(tls ? 'secureConnect' : 'connect', () => done());
    socket.once('error', (err) => done(err));
  });
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code;
  const hints: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listening there)',
    ENOTFOUND: 'host name does not resolve',
    ETIMEDOUT: 'timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    ECONNRESET: 'connection reset',
    '28P01': 'password authentication failed',
    '3D000': 'database does not exist',
  };
  if (code && hints[code]) return hints[code]!;
  return (e.message || String(err)).split('\n')[0]!;
}
