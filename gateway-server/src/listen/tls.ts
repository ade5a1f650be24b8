/**
 * listen.tls: the gateway terminates TLS itself. Certificates are short-lived in most shops
 * (cert-manager, ACME), so the files are re-read on a timer and a changed pair replaces the
 * server's context in place (new handshakes use it; open connections keep theirs). A pair that
 * does not load (half-written rotation, key and cert not matching) is logged and the old one kept.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config } from '../config/load';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

const DEFAULT_RELOAD_MS = 10_000;
/** Browsers remember for a year that this host speaks only HTTPS (the device page, sign-in). */
export const HSTS = 'max-age=31536000';

function readPair(tls: { cert: string; key: string }): TlsFiles {
  const pair = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
  // Throws when the key does not match the certificate or either is not PEM.
  createSecureContext(pair);
  return pair;
}

/** The https options for Fastify, or undefined for plain HTTP; unreadable files refuse boot. */
export function httpsOptions(config: Config): TlsFiles | undefined {
  const tls = config.listen.tls;
  if (!tls) return undefined;
  try {
    return readPair(tls);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([
      `listen.tls: cannot load the certificate ${tls.cert} and key ${tls.key} (${e.code ?? e.message}); ` +
        'point cert and key at readable PEM files of one key pair.',
    ]);
  }
}

const digest = (p: TlsFiles) => createHash('sha256').update(p.cert).update('\0').update(p.key).digest('hex');

/** Poll the files and swap the context when they change. Stops when the app closes. */
export function watchTlsFiles(app: FastifyInstance, config: Config, initial: TlsFiles): void {
  const tls = config.listen.tls;
  if (!tls) return;
  const everyMs = Number(process.env.TOLLGATE_TLS_RELOAD_MS) > 0 ? Number(process.env.TOLLGATE_TLS_RELOAD_MS) : DEFAULT_RELOAD_MS;
  let current = digest(initial);
  let lastError = '';
  const timer = setInterval(() => {
    let pair: TlsFiles;
    try {
      pair = readPair(tls);
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== lastError) app.log.warn({ evt: 'tls.reload_failed', err: msg }, 'listen.tls files do not load; keeping the current certificate');
      lastError = msg;
      return;
    }
    lastError = '';
    const d = digest(pair);
    if (d === current) return;
    (app.server as unknown as TlsServer).setSecureContext(pair);
    current = d;
    app.log.info({ evt: 'tls.reloaded' }, 'listen.tls certificate reloaded');
  }, everyMs);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
