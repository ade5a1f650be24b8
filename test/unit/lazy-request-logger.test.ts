/**
 * req.log is built on first use (app.ts LazyRequestLogger): the lines it writes must be exactly
 * those of Fastify's own per-request child logger, request ID and redaction included.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import { LazyRequestLogger, REDACT_PATHS } from '../../gateway-server/src/app';

async function linesFrom(lazy: boolean): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const app = Fastify({
    logger: { level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, stream },
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => 'req-42',
    ...(lazy ? { childLoggerFactory: (logger, bindings, opts) => new LazyRequestLogger(logger, bindings, opts) } : {}),
  });
  app.get('/x', async (req) => {
    req.log.debug('not at info');
    req.log.warn({ body: { token: 'secret' }, n: 1 }, 'hello %s', 'world');
    req.log.child({ extra: 'y' }).error('from a grandchild');
    return { level: req.log.level };
  });
  const res = await app.inject({ method: 'GET', url: '/x' });
  assert.deepEqual(res.json(), { level: 'info' });
  await app.close();
  return lines.map((l) => {
    const { time: _t, pid: _p, hostname: _h, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}

describe('lazy request logger', () => {
  it('writes the same lines as the default per-request child logger', async () => {
    const lazy = await linesFrom(true);
    assert.deepEqual(lazy, await linesFrom(false));
    assert.equal(lazy.length, 2);
    assert.equal(lazy[0]!.reqId, 'req-42');
    assert.deepEqual(lazy[0]!.body, { token: '[redacted]' });
    assert.equal(lazy[0]!.msg, 'hello world');
    assert.equal(lazy[1]!.extra, 'y');
  });

  it('builds no child logger for a request that does not log', () => {
    let children = 0;
    const parent = { level: 'info', info: () => {}, child: () => (children++, parent) } as never;
    const l = new LazyRequestLogger(parent, { reqId: 'r' }, {});
    assert.equal(l.level, 'info');
    assert.equal(children, 0);
    l.info('x');
    l.info('y');
    assert.equal(children, 1);
  });
});
