/**
 * Entra ID access tokens for provider: azure_openai, from an app registration's client secret or
 * certificate through @azure/identity (MSAL underneath). MSAL keeps the token in memory and asks
 * the authority again only when it is within five minutes of expiry (or past the authority's
 * `refresh_in`), so a request normally costs no network call here.
 *
 * Loaded with a dynamic import (routing/build.ts) only when an upstream uses entra_id: the
 * library is not parsed by gateways that never configure it.
 */
import { AzureAuthorityHosts, ClientCertificateCredential, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import type { ResolvedUpstream } from '../config/load';

type EntraIdConfig = NonNullable<Extract<ResolvedUpstream, { provider: 'azure_openai' }>['auth']['entra_id']>;

/** Azure OpenAI (Cognitive Services) accepts tokens for this resource. */
export const AZURE_OPENAI_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** Resolves to a current bearer token; rejects with an EntraTokenError (never hangs longer than its bound). */
export type BearerTokenSource = (signal: AbortSignal) => Promise<string>;

/** Why no token came; the message is for the operator log and carries no secret. */
export class EntraTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntraTokenError';
  }
}

/** Microsoft's clouds, which instance discovery knows; any other authority is taken as configured. */
const KNOWN_CLOUDS = new Set<string>(Object.values(AzureAuthorityHosts));

function credentialFor(cfg: EntraIdConfig): TokenCredential {
  const host = cfg.authority_host.replace(/\/+$/, '');
  const options = {
    authorityHost: host,
    // Instance discovery validates the authority against Microsoft's cloud list; an authority
    // outside it (Azure Stack Hub, a private test authority) can only be trusted as configured.
    disableInstanceDiscovery: !KNOWN_CLOUDS.has(host),
    // Failover to the next upstream is the gateway's retry: a slow authority must not hold the
    // request through the pipeline's exponential back-off.
    retryOptions: { maxRetries: 0 },
  };
  if (cfg.client_certificate_path) {
    return new ClientCertificateCredential(cfg.tenant_id!, cfg.client_id!, { certificatePath: cfg.client_certificate_path }, options);
  }
  return new ClientSecretCredential(cfg.tenant_id!, cfg.client_id!, cfg.client_secret!, options);
}

/** The library's message with any occurrence of the configured secret removed, shortened. */
export function scrubSecret(message: string, secret: string | undefined): string {
  const text = secret ? message.split(secret).join('[redacted]') : message;
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/**
 * A token source bounded by `timeoutMs` and by the caller's signal. A late answer from the
 * library after the bound is dropped (its rejection is handled, never unhandled).
 */
export function entraTokenSource(cfg: EntraIdConfig, timeoutMs: number, credential: TokenCredential = credentialFor(cfg)): BearerTokenSource {
  return (signal) =>
    new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => finish(() => reject(signal.reason ?? new Error('aborted')));
      const timer = setTimeout(
        () => finish(() => reject(new EntraTokenError(`the authority ${cfg.authority_host} issued no token within ${timeoutMs} ms`))),
        timeoutMs,
      );
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      credential.getToken(AZURE_OPENAI_SCOPE, { abortSignal: signal }).then(
        (t) => finish(() => (t?.token ? resolve(t.token) : reject(new EntraTokenError('@azure/identity returned no access token')))),
        (err: unknown) => finish(() => reject(new EntraTokenError(scrubSecret(String((err as Error)?.message ?? err), cfg.client_secret)))),
      );
    });
}
