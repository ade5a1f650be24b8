/**
 * Load gateway.yaml once at boot: parse YAML, expand secret references, validate with zod,
 * derive the few computed values, then freeze. Every user mistake becomes a ConfigError
 * holding one sentence per problem; the CLI prints those and exits non-zero (no stack trace).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { refusedKeyProblems } from './refused';
import { configSchema, type GatewayConfig, type UpstreamConfig } from './schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export type ResolvedUpstream = UpstreamConfig & { name: string };

export type Config = Readonly<
  Omit<GatewayConfig, 'upstreams'> & {
    upstreams: readonly ResolvedUpstream[];
    /** Base URL clients use; derived from listen when public_url is absent (loopback only). */
    publicUrl: string;
  }
>;

const FULL_FILE_REF = /^\$\{file:([^}]+)\}$/;
const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Expand `${VAR}` anywhere in a string and `${file:/path}` as a whole value. */
export function expandSecrets(value: unknown, env: NodeJS.ProcessEnv, path: string[] = [], problems: string[] = []): unknown {
  if (typeof value === 'string') {
    const fileRef = FULL_FILE_REF.exec(value);
    if (fileRef) {
      try {
        return readFileSync(fileRef[1]!, 'utf8').trim();
      } catch (err) {
        problems.push(`${fmtPath(path)}: cannot read secret file ${fileRef[1]} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
        return '';
      }
    }
    if (value.includes('${file:')) {
      problems.push(`${fmtPath(path)}: \${file:...} must be the whole value of the field.`);
      return value;
    }
    return value.replace(VAR_REF, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${fmtPath(path)}: environment variable ${name} is not set.`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandSecrets(v, env, [...path, String(i)], problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandSecrets(v, env, [...path, k], problems);
    return out;
  }
  return value;
}

function fmtPath(path: (string | number | symbol)[]): string {
  return path.length ? path.map(String).join('.') : '(top level)';
}

export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `${fmtPath(issue.path)}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove or fix the spelling.`;
    }
    return `${fmtPath(issue.path)}: ${issue.message}.`.replace(/\.\.$/, '.');
  });
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/** Validate an already-parsed document (tests use this directly). */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const expanded = expandSecrets(raw ?? {}, env, [], problems);
  if (problems.length) throw new ConfigError(problems);
  const parsed = configSchema.safeParse(expanded);
  if (!parsed.success) throw new ConfigError(formatZodIssues(parsed.error));
  const cfg = parsed.data;
  problems.push(...refusedKeyProblems(expanded, cfg));

  const names = new Set<string>();
  const upstreams: ResolvedUpstream[] = cfg.upstreams.map((u, i) => {
    const name = u.name ?? u.provider;
    if (names.has(name)) problems.push(`upstreams.${i}: two upstreams are named "${name}"; give each a distinct name:.`);
    names.add(name);
    return { ...u, name };
  });
  for (const [i, m] of cfg.models.entries()) {
    for (const key of Object.keys(m.upstream_model)) {
      if (!names.has(key)) problems.push(`models.${i}.upstream_model: "${key}" is not the name of a configured upstream.`);
    }
  }
  const reserved = /^(authorization|x-api-key|host|content-type|user-agent|anthropic-.*|x-goog-.*|x-amz-.*|x-amzn-.*|api-key)$/i;
  for (const [i, u] of upstreams.entries()) {
    if ('headers' in u && u.headers) {
      for (const [h, v] of Object.entries(u.headers)) {
        if (reserved.test(h)) problems.push(`upstreams.${i}.headers: "${h}" is reserved and cannot be set here.`);
        if (!/^[\x20-\x7e]*$/.test(v)) problems.push(`upstreams.${i}.headers.${h}: value must be printable ASCII.`);
      }
    }
  }

  let publicUrl = cfg.listen.public_url;
  if (!publicUrl) {
    if (!isLoopbackHost(cfg.listen.host)) {
      problems.push('listen.public_url: required unless listen.host is a loopback address (clients need the URL they sign in to).');
    }
    const host = cfg.listen.host.includes(':') && !cfg.listen.host.startsWith('[') ? `[${cfg.listen.host}]` : cfg.listen.host;
    publicUrl = `${cfg.listen.tls ? 'https' : 'http'}://${host}:${cfg.listen.port}`;
  }
  publicUrl = publicUrl.replace(/\/+$/, '');
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze({ ...cfg, upstreams, publicUrl });
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`]);
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => `${path}: YAML syntax error: ${e.message.split('\n')[0]}`));
  }
  return resolveConfig(doc.toJS(), env);
}

/** Rebuild a Config with a different public URL (used once the listen port is known). */
export function withPublicUrl(config: Config, publicUrl: string): Config {
  return deepFreeze({ ...config, publicUrl: publicUrl.replace(/\/+$/, '') });
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
