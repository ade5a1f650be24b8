/**
 * GET /managed/settings (gateway-protocol.md §2.7): `{uuid, checksum, settings}`, where
 * checksum = "sha256:" + hex SHA-256 of the settings JSON with keys sorted at every depth.
 * Pure code with no node imports, so the extension and webview bundle it too.
 */
import { z } from 'zod';

export const managedSettingsEnvelopeSchema = z
  .object({ uuid: z.string(), checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/), settings: z.record(z.string(), z.unknown()) })
  .passthrough();
export type ManagedSettingsEnvelope = z.infer<typeof managedSettingsEnvelopeSchema>;

/** JSON with object keys sorted at every depth, arrays in order, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value as Record<string, unknown>)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}
