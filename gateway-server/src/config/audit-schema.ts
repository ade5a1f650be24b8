/**
 * `audit:` in gateway.yaml (Tollgate extension): where committed audit rows are shipped.
 * Each sink gets its own cursor, so one slow or dead destination never holds back another.
 */
import { z } from 'zod';

const sinkName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'sink names are lower-case letters, digits, - and _ (at most 63)');

/** Shared by every sink type. */
const common = {
  name: sinkName,
  /** Rows per delivery (one HTTP request, one syslog write, one file append). */
  batch_size: z.number().int().min(1).max(5000).default(500),
  /** Longest back-off between retries while the destination fails. */
  max_backoff_seconds: z.number().min(1).max(3600).default(60),
  /** Event body: Tollgate's audit entry (default, `tollgate`) or the OCSF 1.3 mapping (docs/audit.md, "OCSF"). */
  schema: z.enum(['tollgate', 'ocsf']).optional(),
};

const otlpSink = z
  .object({
    type: z.literal('otlp'),
    ...common,
    /** The collector's OTLP/HTTP base (`http://collector:4318`) or the full `/v1/logs` URL. */
    url: z.string().url(),
    headers: z.record(z.string(), z.string()).default({}),
    encoding: z.enum(['protobuf', 'json']).default('protobuf'),
  })
  .strict();

const splunkHecSink = z
  .object({
    type: z.literal('splunk_hec'),
    ...common,
    /** Base URL of the HTTP Event Collector, e.g. `https://splunk.example.com:8088`. */
    url: z.string().url(),
    token: z.string().min(1),
    index: z.string().min(1).optional(),
    source: z.string().min(1).default('tollgate'),
    sourcetype: z.string().min(1).default('tollgate:audit'),
    /** Indexer acknowledgement: a batch counts as delivered only once Splunk acknowledges it. */
    ack: z.boolean().default(false),
    /** How long to wait for an acknowledgement before sending the batch again. */
    ack_timeout_seconds: z.number().min(1).max(600).default(60),
  })
  .strict();

const syslogSink = z
  .object({
    type: z.literal('syslog'),
    ...common,
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** TLS (RFC 5425); `ca` is a PEM bundle trusted in addition to the system roots. */
    tls: z.union([z.boolean(), z.object({ ca: z.string().min(1).optional(), servername: z.string().min(1).optional() }).strict()]).default(false),
    format: z.enum(['json', 'cef']).default('json'),
    app_name: z.string().regex(/^[!-~]{1,48}$/, 'app_name is 1-48 printable ASCII characters without spaces').default('tollgate'),
  })
  .strict();

const fileSink = z
  .object({
    type: z.literal('file'),
    ...common,
    /** Directory for hourly files `audit-YYYY-MM-DDTHH.jsonl` (UTC hour of each row). */
    dir: z.string().min(1),
  })
  .strict();

const s3Sink = z
  .object({
    type: z.literal('s3'),
    ...common,
    bucket: z.string().min(3).max(255),
    region: z.string().min(1).default('us-east-1'),
    /** An S3-compatible store's URL (MinIO, Ceph, R2, ...); unset: AWS S3 in `region`. */
    endpoint: z.string().url().optional(),
    /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (most self-hosted stores). */
    force_path_style: z.boolean().default(false),
    /** Key prefix; objects are `<prefix>/YYYY/MM/DD/HH/<first id>-<last id>.jsonl`. */
    prefix: z.string().max(512).default('tollgate-audit'),
    /** Unset: the AWS default credential chain (environment, profile, SSO, IMDS/ECS role). */
    access_key_id: z.string().min(1).optional(),
    secret_access_key: z.string().min(1).optional(),
    session_token: z.string().min(1).optional(),
  })
  .strict()
  .refine((s) => !s.access_key_id === !s.secret_access_key, 'set both access_key_id and secret_access_key, or neither (the AWS default credential chain)');

export const auditSinkSchema = z.discriminatedUnion('type', [otlpSink, splunkHecSink, syslogSink, fileSink, s3Sink]);
export type AuditSinkConfig = z.infer<typeof auditSinkSchema>;

/** Keyed chain checkpoints (docs/audit.md, "Tamper evidence"). */
const checkpointsSchema = z
  .object({
    every_rows: z.number().int().min(1).max(1_000_000).default(1000),
    every_seconds: z.number().min(1).max(86_400).default(60),
    /** The key that signs new checkpoints; every key listed still verifies older ones. */
    signing_key_id: z.string().min(1),
    keys: z.array(z.object({ id: z.string().regex(/^\S+$/, 'key ids have no spaces'), key: z.string().min(32, 'checkpoint keys must be at least 32 characters') }).strict()).default([]),
    /** A file of `<key id> <secret>` lines (e.g. written by a KMS or secret manager), read at boot. */
    key_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => c.keys.length > 0 || c.key_file, 'audit.checkpoints needs keys or a key_file');

export const auditSchema = z
  .object({
    checkpoints: checkpointsSchema.optional(),
    sinks: z
      .array(auditSinkSchema)
      .default([])
      .refine((s) => new Set(s.map((x) => x.name)).size === s.length, 'audit.sinks names must be unique (each sink keeps its own cursor by name)')
      .refine(
        (s) => !s.some((x) => x.type === 'syslog' && x.format === 'cef' && x.schema === 'ocsf'),
        'a syslog sink with schema: ocsf needs format: json (CEF has no place for the OCSF object); set format: json or drop schema: ocsf',
      ),
  })
  .strict();
