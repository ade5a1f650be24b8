/**
 * The configured sinks as shippers. Started by the audit feature; each ships on its own timer
 * from the committed audit table, so the request path never waits for a sink.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AuditSinkConfig } from '../../config/audit-schema';
import type { Queryable } from '../../store/db';
import { SinkShipper, type Destination } from './shipper';
import { otlpDestination } from './otlp';
import { splunkHecDestination } from './splunk-hec';
import { syslogDestination } from './syslog';
import { fileDestination } from './file';
import { s3Destination } from './s3';

export function destinationFor(cfg: AuditSinkConfig, fetchImpl: typeof fetch): Destination {
  switch (cfg.type) {
    case 'otlp':
      return otlpDestination(cfg, fetchImpl);
    case 'splunk_hec':
      return splunkHecDestination(cfg, fetchImpl);
    case 'syslog':
      return syslogDestination(cfg);
    case 'file':
      return fileDestination(cfg);
    case 's3':
      return s3Destination(cfg);
  }
}

export interface SinkSet {
  shippers: SinkShipper[];
  nudge(): void;
  stop(): Promise<void>;
}

export function startSinks(
  db: Queryable,
  sinks: readonly AuditSinkConfig[],
  opts: { fetch: typeof fetch; onError(sink: string, err: unknown, attempt: number): void; pollMs?: number; leaseMs?: number },
): SinkSet {
  const owner = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const shippers = sinks.map(
    (cfg) =>
      new SinkShipper(db, destinationFor(cfg, opts.fetch), {
        name: cfg.name,
        type: cfg.type,
        batchSize: cfg.batch_size,
        schema: 'schema' in cfg ? cfg.schema : undefined,
        maxBackoffMs: cfg.max_backoff_seconds * 1000,
        owner,
        pollMs: opts.pollMs,
        leaseMs: opts.leaseMs,
        onError: (err, attempt) => opts.onError(cfg.name, err, attempt),
      }),
  );
  for (const s of shippers) s.start();
  return {
    shippers,
    nudge: () => shippers.forEach((s) => s.nudge()),
    async stop() {
      await Promise.all(shippers.map((s) => s.stop()));
    },
  };
}
