/**
 * Wires real collaborators (config file, store, upstreams), listens, and drains on SIGTERM:
 * in-flight streams finish, new requests get 503, a second signal forces exit.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, defaultLoggerOptions, type AppDeps } from './app';
import { withPublicUrl, type Config } from './config/load';
import { openStore } from './store/open';
import type { Db } from './store/db';
import { installProcessGuards } from './process-guards';

export interface RunningGateway {
  app: FastifyInstance;
  db: Db;
  url: string;
  config: Config;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Extra deps or overrides (tests inject upstreams, clocks). */
  deps?: Partial<AppDeps>;
  log?: (msg: string) => void;
  installSignalHandlers?: boolean;
  drainTimeoutMs?: number;
}

export async function startGateway(config: Config, opts: StartOptions = {}): Promise<RunningGateway> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`[tollgate] ${new Date().toISOString()} info ${m}\n`));
  // A real process (signal handlers) never exits on an escaped rejection; tests keep mocha's own handling.
  if (opts.installSignalHandlers) installProcessGuards((m) => process.stderr.write(`[tollgate] ${new Date().toISOString()} error ${m}\n`));
  const db = opts.deps?.db ?? (await openStore(config, log));
  let app: FastifyInstance;
  let effective = config;
  try {
    app = await buildApp({ logger: defaultLoggerOptions(), ...opts.deps, config, db });
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    if (!opts.deps?.db) await db.close().catch(() => {});
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  if (!config.listen.public_url && config.listen.port === 0) {
    // The port was chosen by the OS: rebuild with the real public URL (issuer and endpoints use it).
    await app.close();
    effective = withPublicUrl(config, config.publicUrl.replace(/:0$/, `:${port}`));
    app = await buildApp({ logger: defaultLoggerOptions(), ...opts.deps, config: effective, db });
    await app.listen({ host: config.listen.host, port });
  }
  const url = effective.publicUrl;
  log(`tollgate gateway listening on ${url}`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await drain(app, opts.drainTimeoutMs ?? Number(process.env.TOLLGATE_DRAIN_TIMEOUT_MS ?? 25_000), log);
      for (const u of app.gateway.upstreams) await u.close().catch(() => {});
      if (!opts.deps?.db) await db.close().catch(() => {});
    })();
    return closing;
  };

  if (opts.installSignalHandlers) {
    let signals = 0;
    const onSignal = (sig: string) => {
      signals++;
      if (signals > 1) {
        log(`second ${sig}: exiting now`);
        process.exit(1);
      }
      log(`${sig} received: draining (new requests get 503, in-flight requests finish)`);
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  }
  return { app, db, url, config: effective, close };
}

async function drain(app: FastifyInstance, timeoutMs: number, log: (m: string) => void): Promise<void> {
  const state = app.gateway.state;
  state.draining = true;
  // Stop accepting connections; idle keep-alive sockets close, active ones finish.
  const serverClosed = new Promise<void>((resolve) => app.server.close(() => resolve()));
  app.server.closeIdleConnections?.();
  const deadline = Date.now() + timeoutMs;
  while (state.inFlight > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    app.server.closeIdleConnections?.();
  }
  if (state.inFlight > 0) {
    log(`drain window over after ${timeoutMs} ms with ${state.inFlight} requests in flight`);
    app.server.closeAllConnections?.();
  }
  await Promise.race([serverClosed, new Promise((r) => setTimeout(r, 1000))]);
  await app.close().catch(() => {});
}
