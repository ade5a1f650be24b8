/**
 * File sink: hourly JSONL files (`audit-YYYY-MM-DDTHH.jsonl`, UTC hour of each row) in a local
 * directory, for cold retention or a log shipper to pick up. Each batch is appended and fsynced
 * before the cursor moves; a crash between the two appends the batch again (at least once).
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEntry } from '../../protocol/audit';
import type { Destination } from './shipper';
import { eventBody, type EventSchema } from '../ocsf';

export function hourFile(at: string): string {
  return `audit-${at.slice(0, 13)}.jsonl`;
}

export function fileDestination(cfg: { dir: string; schema?: EventSchema }): Destination {
  return {
    async deliver(entries) {
      await mkdir(cfg.dir, { recursive: true });
      const byFile = new Map<string, string[]>();
      for (const e of entries) {
        const f = hourFile(e.at);
        const lines = byFile.get(f) ?? [];
        lines.push(`${JSON.stringify(eventBody(e, cfg.schema))}\n`);
        byFile.set(f, lines);
      }
      for (const [name, lines] of byFile) {
        const fh = await open(join(cfg.dir, name), 'a', 0o640);
        try {
          await fh.appendFile(lines.join(''));
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    },
    async close() {},
  };
}
