/**
 * S3 sink: one immutable JSONL object per shipped batch and UTC hour, under
 * `<prefix>/YYYY/MM/DD/HH/<first id>-<last id>.jsonl` (ids zero-padded to 20 digits so keys sort
 * like ids), PUT through the AWS SDK with SigV4 to AWS S3 or any S3-compatible store.
 * Delivery is at least once like every sink; because the key is derived from the rows, a batch
 * sent again after a crash or a lost reply overwrites the same object instead of adding a copy.
 */
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AuditEntry } from '../../protocol/audit';
import type { Destination, ShippedEvent } from './shipper';

export interface S3SinkConfig {
  bucket: string;
  region: string;
  endpoint?: string;
  force_path_style: boolean;
  prefix: string;
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
}

const pad = (id: string | number) => String(id).padStart(20, '0');

/** Object key for a run of rows of one UTC hour (`at` is ISO 8601 UTC). */
export function objectKey(prefix: string, first: AuditEntry, last: AuditEntry): string {
  const [date, time] = first.at.split('T') as [string, string];
  const hour = `${date.replaceAll('-', '/')}/${time.slice(0, 2)}`;
  const base = prefix.replace(/^\/+|\/+$/g, '');
  return `${base ? `${base}/` : ''}${hour}/${pad(first.id)}-${pad(last.id)}.jsonl`;
}

/** The batch split by UTC hour, in order: key → JSONL body. */
export function objectsFor(prefix: string, events: ShippedEvent[]): [string, string][] {
  const groups: ShippedEvent[][] = [];
  for (const e of events) {
    const cur = groups.at(-1);
    if (cur && cur[0]!.entry.at.slice(0, 13) === e.entry.at.slice(0, 13)) cur.push(e);
    else groups.push([e]);
  }
  return groups.map((g) => [objectKey(prefix, g[0]!.entry, g.at(-1)!.entry), g.map((e) => `${JSON.stringify(e.body)}\n`).join('')]);
}

/** Worded for /healthz and the log: status and S3 error code, never the request (it carries the signature). */
function s3Failure(cfg: S3SinkConfig, err: unknown): Error {
  const where = `S3 bucket ${cfg.bucket}${cfg.endpoint ? ` at ${new URL(cfg.endpoint).origin}` : ''}`;
  if (err instanceof S3ServiceException) {
    const status = err.$metadata.httpStatusCode;
    return new Error(`${where} answered ${status ? `HTTP ${status} ` : ''}(${err.name}); the batch stays queued and is retried`);
  }
  return new Error(`${where} could not be reached (${(err as Error).name}: ${(err as Error).message}); the batch stays queued and is retried`);
}

export function s3Client(cfg: S3SinkConfig): S3Client {
  return new S3Client({
    region: cfg.region,
    endpoint: cfg.endpoint,
    forcePathStyle: cfg.force_path_style,
    credentials: cfg.access_key_id
      ? { accessKeyId: cfg.access_key_id, secretAccessKey: cfg.secret_access_key!, sessionToken: cfg.session_token }
      : fromNodeProviderChain(),
    // The shipper retries with its own back-off and keeps the lag visible; S3-compatible stores
    // that predate flexible checksums reject the CRC headers, so send them only where required.
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

export function s3Destination(cfg: S3SinkConfig, client: S3Client = s3Client(cfg)): Destination {
  return {
    async deliver(events) {
      for (const [key, body] of objectsFor(cfg.prefix, events)) {
        try {
          await client.send(new PutObjectCommand({ Bucket: cfg.bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }), { abortSignal: AbortSignal.timeout(30_000) });
        } catch (err) {
          throw s3Failure(cfg, err);
        }
      }
    },
    async close() {
      client.destroy();
    },
  };
}
