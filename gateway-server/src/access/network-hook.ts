/**
 * Wires the network gate (network-gate.ts) in front of every route, as an onRequest hook, so a
 * refused address reaches no handler, no body parser and no sign-in page. The answer takes the
 * route's shape: the Anthropic envelope, OAuth's on /oauth/*, a page on the browser pages. /healthz and
 * /readyz stay open: orchestrator probes come from node addresses operators rarely list, and
 * they reveal nothing but "up" and "ready".
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/load';
import { ERRORS, GatewayError, OAuthError, renderAnthropicError, renderOAuthError } from '../errors';
import type { GatewayEvent } from '../feature';
import { para, sendPage } from '../auth/pages';
import { DenialSampler, NetworkGate } from './network-gate';

const PROBES = new Set(['/healthz', '/readyz']);
/** Pages people open in a browser: they get the sentence as a page, not as JSON. */
const BROWSER_PAGES = new Set(['/', '/device', '/device/deny', '/oauth/callback']);

export function registerNetworkGate(
  app: FastifyInstance,
  config: Config,
  emit: (e: GatewayEvent) => Promise<void>,
  now: () => number,
): void {
  const ac = config.access_control;
  if (!ac) return;
  const gate = new NetworkGate(ac);
  if (!gate.active) return;
  const sampler = new DenialSampler(now);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (PROBES.has(path)) return;
    const verdict = gate.check(req.ip);
    if (verdict.allowed) return;
    const address = req.ip ?? 'unknown';
    if (sampler.shouldRecord(address, verdict.reason)) {
      await emit({
        name: 'access.denied',
        at: new Date(now()),
        requestId: req.id,
        outcome: 'denied',
        reason: verdict.reason,
        detail: { address, path: path.slice(0, 200) },
      }).catch((err) => app.log.error({ err }, 'access.denied event failed'));
    }
    reply.header('connection', 'close');
    if (BROWSER_PAGES.has(path)) {
      return sendPage(reply, 'Not available from your network', para(ERRORS.NETWORK_NOT_ALLOWED.message), { status: 403 });
    }
    if (path.startsWith('/oauth/')) {
      const r = renderOAuthError(new OAuthError('access_denied', 403, ERRORS.NETWORK_NOT_ALLOWED.message));
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
    const r = renderAnthropicError(new GatewayError('NETWORK_NOT_ALLOWED'), req.id);
    return reply.code(r.status).headers(r.headers).send(r.body);
  });
}
