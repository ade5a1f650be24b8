/**
 * `tollgate-gateway check` lines for audit sinks: can each destination be reached (a TCP or TLS
 * connection, a writable directory), and, with PostgreSQL, how far behind each sink's cursor is.
 * Probes send nothing: no test event lands in the SIEM.
 */
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { AuditSinkConfig } from '../../config/audit-schema';
import type { Queryable } from '../../store/db';

export interface SinkCheckLine {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

function reach(host: string, port: number, tls: boolean | { ca?: string; servername?: string }, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const opts = typeof tls === 'object' ? tls : {};
    const s = tls ? tlsConnect({ host, port, ca: opts.ca, servername: opts.servername ?? (isIP(host) ? undefined : host) }) : netConnect({ host, port });
    const done = (err?: string) => {
      s.destroy();
      resolve(err);
    };
    s.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    s.once('error', (e) => done(e.message));
    s.once(tls ? 'secureConnect' : 'connect', () => done());
  });
}

function endpoint(s: AuditSinkConfig): { host: string; port: number; tls: boolean | { ca?: string; servername?: string } } | undefined {
  if (s.type === 'syslog') return { host: s.host, port: s.port, tls: s.tls };
  if (s.type === 'otlp' || s.type === 'splunk_hec' || s.type === 's3') {
    const u = new URL(s.type === 's3' ? (s.endpoint ?? `https://s3.${s.region}.amazonaws.com`) : s.url);
    const https = u.protocol === 'https:';
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (https ? 443 : 80), tls: https };
  }
  return undefined;
}

export async function checkSinkReachable(s: AuditSinkConfig, timeoutMs: number): Promise<SinkCheckLine> {
  const name = `audit sink ${s.name}`;
  if (s.type === 'file') {
    try {
      await mkdir(s.dir, { recursive: true });
      await access(s.dir, constants.W_OK);
      return { name, status: 'ok', detail: `file: ${s.dir} is writable` };
    } catch (err) {
      return { name, status: 'fail', detail: `file: cannot write to ${s.dir}: ${(err as Error).message}` };
    }
  }
  const ep = endpoint(s)!;
  const err = await reach(ep.host, ep.port, ep.tls, timeoutMs);
  const where = `${ep.host}:${ep.port}${ep.tls ? ' (TLS)' : ''}`;
  return err
    ? { name, status: 'fail', detail: `${s.type}: cannot reach ${where}: ${err}; rows wait in the audit table until it can` }
    : { name, status: 'ok', detail: `${s.type}: ${where} accepts connections` };
}

/** Each configured sink's backlog from its stored cursor (PostgreSQL: the running gateways share it). */
export async function checkSinkLag(db: Queryable, sinks: readonly AuditSinkConfig[]): Promise<SinkCheckLine[]> {
  const exists = (await db.query<{ t: string | null }>("SELECT to_regclass('tollgate_audit_sink')::text AS t")).rows[0]?.t;
  if (!exists) return [];
  const out: SinkCheckLine[] = [];
  for (const s of sinks) {
    const { rows } = await db.query<{ txid: string; last_id: string; delivered: string; updated_at: Date }>(
      `SELECT txid::text AS txid, last_id::text AS last_id, delivered::text AS delivered, updated_at FROM tollgate_audit_sink WHERE sink = $1`,
      [s.name],
    );
    const c = rows[0] ?? { txid: '0', last_id: '0', delivered: '0', updated_at: undefined };
    const { rows: lag } = await db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM (SELECT 1 FROM audit_log WHERE (coalesce(txid, '0'::xid8), id) > ($1::xid8, $2::bigint) LIMIT 100001) AS pending`,
      [c.txid, c.last_id],
    );
    const n = Number(lag[0]!.n);
    const shown = n > 100_000 ? 'more than 100,000' : String(n);
    out.push({
      name: `audit sink ${s.name}`,
      status: n > 10_000 ? 'warn' : 'ok',
      detail: `${shown} rows waiting, ${c.delivered} delivered${c.updated_at ? ` (cursor moved ${c.updated_at.toISOString()})` : ' (never shipped yet)'}`,
    });
  }
  return out;
}
