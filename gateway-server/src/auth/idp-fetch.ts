/**
 * How the gateway reaches the identity provider. By default, directly with the injected fetch.
 * `oidc.ca_cert_pem` adds a private CA to the public roots (an IdP behind an internal PKI, the
 * usual case for on-premises Keycloak or ADFS); `oidc.use_proxy` sends IdP traffic through
 * HTTPS_PROXY / HTTP_PROXY, honouring NO_PROXY, as the official gateway does. Discovery, JWKS,
 * token, refresh and userinfo calls all go through the same dispatcher, and so does
 * `tollgate-gateway check`, so a check that passes means sign-in can reach the IdP.
 */
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';

export interface IdpNetwork {
  ca_cert_pem?: string;
  use_proxy?: boolean;
}

/** A dispatcher for IdP traffic, or undefined when the defaults apply (direct, public roots). */
export function idpDispatcher(cfg: IdpNetwork, timeoutMs?: number): Dispatcher | undefined {
  if (!cfg.ca_cert_pem && !cfg.use_proxy && timeoutMs === undefined) return undefined;
  // `ca` replaces Node's roots, so keep them: a private CA is added, not substituted.
  const tls = cfg.ca_cert_pem ? { ca: [...rootCertificates, cfg.ca_cert_pem] } : {};
  const timeouts = timeoutMs === undefined ? {} : { headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  const connect = { ...tls, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) };
  return cfg.use_proxy ? new EnvHttpProxyAgent({ connect, requestTls: tls, ...timeouts }) : new Agent({ connect, ...timeouts });
}

export function idpFetch(cfg: IdpNetwork, base: typeof fetch): typeof fetch {
  const dispatcher = idpDispatcher(cfg);
  if (!dispatcher) return base;
  return ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof fetch;
}
