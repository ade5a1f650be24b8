/**
 * What the extension writes into the workspace's Claude Code settings: the policy's settings
 * minus anything secret. The proxy env (this window's port and local secret) goes only to the
 * window's terminals (terminal-env.ts), never into a file that outlives the window.
 */
import type { Json } from './merge';

type Obj = { [k: string]: Json };

// Credentials and auth-mode switches the gateway must never push into a workspace file.
const SECRET_ENV = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|CREDENTIAL|PRIVATE_KEY|AUTHORIZATION)/i;
const DROPPED_KEYS = new Set(['apiKeyHelper', 'otelHeadersHelper', 'awsAuthRefresh', 'awsCredentialExport']);

export interface Sanitized {
  settings: Obj;
  dropped: string[];
}

export function sanitizeManaged(settings: Record<string, unknown>): Sanitized {
  const dropped: string[] = [];
  const out: Obj = {};
  for (const [k, v] of Object.entries(settings)) {
    if (DROPPED_KEYS.has(k)) {
      dropped.push(k);
      continue;
    }
    if (k === 'env' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const env: Obj = {};
      for (const [ek, ev] of Object.entries(v as Record<string, unknown>)) {
        if (SECRET_ENV.test(ek) || ek === 'ANTHROPIC_BASE_URL') dropped.push(`env.${ek}`);
        else if (typeof ev === 'string' || typeof ev === 'number' || typeof ev === 'boolean') env[ek] = String(ev);
      }
      if (Object.keys(env).length) out.env = env;
      continue;
    }
    out[k] = v as Json;
  }
  return { settings: out, dropped };
}

/** The env that routes Claude Code in this window's terminals through its loopback proxy. */
export function proxyEnv(proxyUrl: string, localSecret: string): Record<string, string> {
  return { ANTHROPIC_BASE_URL: proxyUrl, ANTHROPIC_AUTH_TOKEN: localSecret, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
}

/** Defence in depth: refuse to write text that contains a gateway credential. */
export function assertNoSecrets(text: string, secrets: (string | undefined)[]): void {
  for (const s of secrets) if (s && s.length >= 8 && text.includes(s)) throw new Error('refusing to write a gateway credential into a workspace file');
}
