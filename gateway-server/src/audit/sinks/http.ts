/** Failures of HTTP destinations, worded for /healthz and the operations log (never the body: it may echo a token). */
export function httpFailure(what: string, url: string, status: number): Error {
  const u = new URL(url);
  return new Error(`${what} at ${u.origin}${u.pathname} answered HTTP ${status}; the batch stays queued and is retried`);
}
