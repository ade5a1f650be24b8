/**
 * The audit feature: every inference request and every gateway event (sign-in, refresh,
 * revocation, admin mutation, denial) becomes one hash-chained row, committed before the
 * caller continues (the inference route awaits onInference before ending the response), and
 * one structured line on the operations log. Also serves GET /v1/organizations/audit and runs
 * the retention job.
 */
import type { Feature, FeatureContext, GatewayEvent } from '../feature';
import type { InferenceEvent } from '../inference/hooks';
import { dirname, join, resolve } from 'node:path';
import { GatewayError } from '../errors';
import { AuditWriter, INSERT_SQL } from './writer';
import { AuditSpool, adoptDeadSpools } from './spool';
import { gatewayEventContent, inferenceContent, type AuditContent } from './record';
import { pruneAudit } from './prune';
import { auditRoutes } from './routes';
import { startSinks, type SinkSet } from './sinks';
import { Checkpointer, loadSealKeys } from './checkpoint/checkpointer';
import { newChainId } from './writer';

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
const FIRST_PRUNE_AFTER_MS = 60_000;

export interface AuditFeature extends Feature {
  writer: AuditWriter;
  /** Shippers of `audit.sinks` (empty set when none are configured). */
  sinks: SinkSet;
  /** Run the retention job now (the hourly timer calls this). */
  prune(): Promise<{ deleted: number; ran: boolean }>;
}

export async function createAuditFeature(ctx: FeatureContext): Promise<AuditFeature> {
  const writer = new AuditWriter(ctx.db);
  const spooling = startSpool(ctx, writer);
  const retentionDays = ctx.config.admin?.audit_retention_days ?? 365;
  const cp = ctx.config.audit?.checkpoints;
  const checkpointer = cp
    ? new Checkpointer(ctx.db, cp, loadSealKeys(cp), newChainId(), (err) =>
        ctx.log.warn({ evt: 'audit.checkpoint_failed', err: (err as Error).message }, 'audit checkpoint failed; will retry'),
      )
    : undefined;
  checkpointer?.start();
  const sinks = startSinks(ctx.db, ctx.config.audit?.sinks ?? [], {
    fetch: ctx.fetch,
    onError: (sink, err, attempt) =>
      // Every failure while it is fresh, then every tenth: an outage of hours must not flood the log.
      (attempt <= 3 || attempt % 10 === 0) && ctx.log.warn({ evt: 'audit.sink_failed', sink, attempt, err: (err as Error).message }, 'audit sink delivery failed; retrying with back-off'),
  });

  const write = async (content: AuditContent) => {
    try {
      await writer.append(content);
    } catch (err) {
      // The row could not be committed: keep it on the operations log so it is not lost outright.
      ctx.log.error({ err, evt: 'audit.write_failed', record: { ...content, at: content.at.toISOString() } }, 'audit write failed');
      throw err;
    }
  };

  const prune = async () => {
    const now = new Date(ctx.clock.now());
    const res = await pruneAudit(ctx.db, writer, new Date(now.getTime() - retentionDays * DAY_MS), now);
    if (res.deleted > 0) ctx.log.info({ evt: 'audit.prune', deleted: res.deleted, retention_days: retentionDays }, 'audit retention');
    return res;
  };
  const runPrune = () => {
    prune().catch((err) => ctx.log.warn({ err, evt: 'audit.prune' }, 'audit retention run failed; will retry next hour'));
  };
  const first = setTimeout(runPrune, FIRST_PRUNE_AFTER_MS);
  const hourly = setInterval(runPrune, PRUNE_EVERY_MS);
  first.unref();
  hourly.unref();

  return {
    writer,
    sinks,
    prune,
    gauges: [
      {
        name: 'tollgate.audit.sink.lag',
        unit: '{row}',
        description: 'Committed audit rows not yet delivered to the sink (measured by the process shipping to it)',
        read: () => sinks.shippers.filter((s) => s.status.shipping).map((s) => ({ value: s.status.lag_rows, attributes: { 'tollgate.audit.sink': s.status.name } })),
      },
    ],
    observers: [
      {
        async onInference(e: InferenceEvent) {
          ctx.log.info(
            {
              evt: 'inference',
              request_id: e.requestId,
              sub: e.principal?.sub,
              model: e.model,
              upstream: e.upstream,
              status: e.status,
              outcome: e.outcome,
              reason: e.reason,
              latency_ms: Math.round(e.latencyMs),
              cost_micros: e.costMicros,
            },
            'inference',
          );
          await write(inferenceContent(e));
        },
      },
    ],
    async onEvent(e: GatewayEvent) {
      const level = e.outcome === 'ok' ? 'info' : 'warn';
      ctx.log[level](
        { evt: e.name, request_id: e.requestId, sub: e.principal?.sub, actor: e.actor, outcome: e.outcome, reason: e.reason, surface: e.surface },
        e.name,
      );
      await write(gatewayEventContent(e));
    },
    carryWrites: (source) => writer.carry(source),
    deriveWrites: (derive) => writer.deriveWith(derive),
    routes: auditRoutes,
    refuse: () => (writer.spool?.full ? new GatewayError('AUDIT_SPOOL_FULL', undefined, { headers: { 'retry-after': '5' } }) : undefined),
    async close() {
      clearTimeout(first);
      clearInterval(hourly);
      spooling.stop();
      await writer.close();
      await checkpointer?.stop();
      await sinks.stop();
    },
  };
}

/** The spool folder: `store.spool_dir`, else `spool` beside the embedded store's folder. */
export function spoolDir(config: FeatureContext['config']): string {
  return resolve(config.store.spool_dir ?? join(dirname(config.store.data_dir), 'spool'));
}

/**
 * PostgreSQL stores only (the embedded one cannot be unreachable): give the writer its spool,
 * replay dead processes' spools once the store answers, and replay ours when it comes back.
 */
function startSpool(ctx: FeatureContext, writer: AuditWriter): { stop(): void } {
  const { db, config, log } = ctx;
  if (db.kind !== 'postgres') return { stop() {} };
  const dir = spoolDir(config);
  const spool = new AuditSpool(dir, writer.chain, config.store.spool_max_bytes, INSERT_SQL);
  writer.spool = spool;
  writer.onReplayed = (n) => log.warn({ evt: 'audit.spool_replayed', records: n, spool: spool.path }, 'audit spool replayed into PostgreSQL');
  let adopting = false;
  const adopt = () => {
    if (adopting || db.health?.reachable === false) return;
    adopting = true;
    adoptDeadSpools(db, dir, spool.path, INSERT_SQL, (m) => log.warn({ evt: 'audit.spool_adopted', dir }, m))
      .catch((err) => log.warn({ err: (err as Error).message, dir }, "could not replay a dead process's audit spool yet; will retry"))
      .finally(() => {
        adopting = false;
      });
  };
  adopt();
  const off = db.health?.onChange((up) => {
    if (up) writer.replaySoon();
  });
  // Also on a timer: a replay that failed midway, and spools of processes that died meanwhile.
  const timer = setInterval(() => {
    if (spool.backlog && db.health?.reachable !== false) writer.replaySoon();
    adopt();
  }, 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      off?.();
    },
  };
}
