/**
 * Wires real collaborators (config file, store, upstreams), listens, and drains on SIGTERM:
 * in-flight streams finish, new requests get 503, a second signal forces exit.
 */
import type { FastifyInstance } from 'fastify';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions } from 'node:https';
import type { FastifyHttpOptions } from 'fastify';
import { buildApp, defaultLoggerOptions, fastifyOptions, type AppDeps } from './app';
import { buildFrontDoor } from './front-door';
import { withPublicUrl, type Config } from './config/load';
import { openStore } from './store/open';
import type { Db } from './store/db';
import { installProcessGuards } from './process-guards';
import { isStoreUnreachableError } from './store/health';

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

  // One socket for the process's life: the front door answers on it until the store is open,
  // then the app takes over the same server (no port rebinding, no refused connections).
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  const server = createNodeServer(config, (req, res) => handler(req, res));
  let waitingFor = 'waiting for the store (PostgreSQL) to answer and be migrated';
  const front = await buildFrontDoor(
    config,
    (h) => {
      handler = h;
      return server;
    },
    () => waitingFor,
  );
  const frontListeners = server.listeners('clientError');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: config.listen.host, port: config.listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  // A port chosen by the OS: the issuer and endpoint URLs use the real one.
  const effective = !config.listen.public_url && config.listen.port === 0 ? withPublicUrl(config, config.publicUrl.replace(/:0$/, `:${port}`)) : config;
  const url = effective.publicUrl;

  let stopping = false;
  let app: FastifyInstance | undefined;
  let closing: Promise<void> | undefined;
  let db: Db | undefined;
  const close = (): Promise<void> => {
    stopping = true;
    closing ??= (async () => {
      if (app) {
        await drain(app, opts.drainTimeoutMs ?? Number(process.env.TOLLGATE_DRAIN_TIMEOUT_MS ?? 25_000), log);
        for (const u of app.gateway.upstreams) await u.close().catch(() => {});
      } else {
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections?.();
        await closed;
      }
      await front.close().catch(() => {});
      if (db && !opts.deps?.db) await db.close().catch(() => {});
    })();
    return closing;
  };
  if (opts.installSignalHandlers) installSignalHandlers(close, log);

  try {
    db = opts.deps?.db ?? (await openStore(effective, log, { retryForever: { stopped: () => stopping } }));
    waitingFor = 'starting';
    let appHandler: typeof handler | undefined;
    for (let attempt = 1; ; attempt++) {
      const before = new Set(server.listeners('clientError'));
      try {
        app = await buildApp({
          logger: defaultLoggerOptions(),
          ...opts.deps,
          config: effective,
          db,
          serverFactory: (h) => {
            appHandler = h;
            return server;
          },
        });
        await app.ready();
        break;
      } catch (err) {
        // PostgreSQL went away between the migration and the features' first reads: try again.
        for (const l of server.listeners('clientError')) if (!before.has(l)) server.off('clientError', l as (...a: unknown[]) => void);
        if (!isStoreUnreachableError(err) || stopping || opts.deps?.db) throw err;
        log(`the store went away while the gateway was starting (attempt ${attempt}): ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
      }
    }
    // The app's own clientError handler replaces the front door's.
    for (const l of frontListeners) server.off('clientError', l as (...a: unknown[]) => void);
    handler = appHandler!;
    await front.close();
  } catch (err) {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections?.();
    await closed;
    if (db && !opts.deps?.db) await db.close().catch(() => {});
    throw err;
  }
  if (!app) throw new Error('the gateway app was not built');
  log(`tollgate gateway listening on ${url}`);
  return { app, db, url, config: effective, close };
}

/** A node server configured exactly as Fastify would configure its own from the same options. */
function createNodeServer(config: Config, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const o = fastifyOptions(config, false) as FastifyHttpOptions<Server> & { https?: ServerOptions | null };
  const server = o.https ? createHttpsServer(o.https, handler) : createServer(o.http ?? {}, handler);
  server.keepAliveTimeout = o.keepAliveTimeout ?? 72_000;
  server.requestTimeout = o.requestTimeout ?? 0;
  server.setTimeout(o.connectionTimeout ?? 0);
  if (o.maxRequestsPerSocket && o.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = o.maxRequestsPerSocket;
  return server;
}

function installSignalHandlers(close: () => Promise<void>, log: (m: string) => void): void {
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
