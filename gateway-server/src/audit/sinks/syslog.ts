/**
 * syslog sink: RFC 5424 messages over TCP or TLS (RFC 5425) with octet-counted framing
 * (RFC 6587 3.4.1), body JSON (the documented entry) or ArcSight CEF. A batch counts as
 * delivered once the socket has taken every byte; a broken connection is reopened for the retry.
 */
import { Socket, connect as tcpConnect, isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { hostname } from 'node:os';
import type { AuditEntry } from '../../protocol/audit';
import { GATEWAY_VERSION } from '../../version';
import type { Destination, ShippedEvent } from './shipper';

export interface SyslogConfig {
  host: string;
  port: number;
  tls: boolean | { ca?: string; servername?: string };
  format: 'json' | 'cef';
  app_name: string;
}

// Facility 13 ("log audit"); severity 6 informational, 4 warning.
const FACILITY = 13;
const HOST = (hostname() || '-').replace(/[^!-~]/g, '').slice(0, 255) || '-';

const cefHeader = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
const cefValue = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r?\n|\r/g, '\\n');

/** ArcSight CEF: standard extension keys where one fits, custom strings labelled otherwise. */
export function cefMessage(e: AuditEntry): string {
  const ext: [string, string | number | null | undefined][] = [
    ['rt', Date.parse(e.at)],
    ['externalId', e.id],
    ['suser', e.principal?.sub],
    ['suid', e.principal?.email],
    ['outcome', e.outcome],
    ['reason', e.reason],
    ['requestClientApplication', e.surface],
    ['cs1Label', 'model'],
    ['cs1', e.model],
    ['cs2Label', 'chain'],
    ['cs2', e.chain],
    ['cs3Label', 'hash'],
    ['cs3', e.hash],
    ['cn1Label', 'status'],
    ['cn1', e.status],
    ['cn2Label', 'cost_micros'],
    ['cn2', e.cost_micros],
  ];
  const severity = e.outcome === 'ok' ? 3 : 6;
  const extension = ext
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${cefValue(String(v))}`)
    .join(' ');
  return `CEF:0|Tollgate|tollgate-gateway|${GATEWAY_VERSION}|${cefHeader(e.event)}|${cefHeader(e.event)}|${severity}|${extension}`;
}

/** One RFC 5424 message, octet-counted: `LEN SP <PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG`. */
export function syslogFrame({ entry: e, body: event }: ShippedEvent, cfg: Pick<SyslogConfig, 'format' | 'app_name'>): Buffer {
  const pri = FACILITY * 8 + (e.outcome === 'ok' ? 6 : 4);
  const msgid = e.event.replace(/[^!-~]/g, '_').slice(0, 32) || '-';
  const body = cfg.format === 'cef' ? cefMessage(e) : JSON.stringify(event);
  // MSG-ANY (no BOM): receivers such as rsyslog then hand the JSON or CEF text on unchanged.
  const msg = Buffer.from(`<${pri}>1 ${e.at} ${HOST} ${cfg.app_name} ${process.pid} ${msgid} - ${body}`, 'utf8');
  return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
}

export function syslogDestination(cfg: SyslogConfig): Destination {
  let socket: Socket | TLSSocket | undefined;
  let broken: Error | undefined;
  const open = () =>
    new Promise<Socket | TLSSocket>((resolve, reject) => {
      const opts = typeof cfg.tls === 'object' ? cfg.tls : {};
      const s = cfg.tls
        ? tlsConnect({ host: cfg.host, port: cfg.port, ca: opts.ca, servername: opts.servername ?? (isIP(cfg.host) ? undefined : cfg.host) })
        : tcpConnect({ host: cfg.host, port: cfg.port });
      const fail = (err: Error) => reject(new Error(`cannot reach syslog at ${cfg.host}:${cfg.port}: ${err.message}`));
      s.once('error', fail);
      s.once(cfg.tls ? 'secureConnect' : 'connect', () => {
        s.off('error', fail);
        broken = undefined;
        s.on('error', (err) => (broken = err));
        s.on('close', () => (broken ??= new Error('the syslog server closed the connection')));
        // Servers send nothing back; reading keeps a half-closed socket noticed.
        s.on('data', () => {});
        resolve(s);
      });
      s.setTimeout(30_000, () => s.destroy(new Error('timed out')));
    });
  return {
    async deliver(events) {
      if (!socket || broken || socket.destroyed) {
        socket?.destroy();
        socket = await open();
      }
      const s = socket;
      const data = Buffer.concat(events.map((e) => syslogFrame(e, cfg)));
      await new Promise<void>((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
      if (broken) throw broken;
    },
    async close() {
      socket?.end();
      socket = undefined;
    },
  };
}
