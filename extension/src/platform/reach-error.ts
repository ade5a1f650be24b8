/**
 * Network failures as sentences that say what to do (issue 19 item 7): the runtime's own text
 * ("fetch failed", "Failed to parse URL from /healthz") never reaches the developer. Matches on
 * error codes (`cause.code`, `name`), never on message text. Pure: no `vscode`.
 */
function codeOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown; name?: unknown } } | undefined;
  const code = e?.cause?.code ?? e?.code;
  if (typeof code === 'string') return code;
  const name = e?.name ?? e?.cause?.name;
  return typeof name === 'string' ? name : undefined;
}

function validUrl(base: string): URL | undefined {
  try {
    const u = new URL(base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

export function unreachableSentence(baseUrl: string, err: unknown): string {
  if (!baseUrl.trim()) return 'No gateway is set. Run "Tollgate: Sign In" or set "tollgate.gatewayUrl" to your gateway\'s address.';
  const url = validUrl(baseUrl);
  if (!url) return `"${baseUrl}" is not a gateway address. Set "tollgate.gatewayUrl" to an http:// or https:// URL.`;
  const where = url.origin;
  switch (codeOf(err)) {
    case 'ECONNREFUSED':
      return `Nothing answers at ${where}. Check that the gateway is running and the address is right.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The name in ${where} cannot be found. Check the gateway address, or your network or VPN.`;
    case 'TimeoutError':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `${where} did not answer in time. Check your network or VPN; Tollgate keeps retrying.`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `${where} closed the connection. Tollgate keeps retrying; if it persists, ask your gateway administrator.`;
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `The TLS certificate of ${where} is not trusted on this machine. Ask your gateway administrator, or add the certificate authority to your system.`;
    default:
      return `Cannot reach ${where}. Check your network; Tollgate keeps retrying.`;
  }
}

/** An unexpected HTTP status from one of the gateway's routes, as a sentence. */
export function httpSentence(what: string, status: number): string {
  if (status >= 500) return `The gateway could not answer ${what} (HTTP ${status}). Tollgate retries shortly; if it persists, ask your gateway administrator.`;
  return `The gateway refused ${what} (HTTP ${status}). If it persists, ask your gateway administrator.`;
}
