/**
 * File sink: hourly JSONL files (`audit-YYYY-MM-DDTHH.jsonl`, UTC hour of each row) in a local
 * directory, for cold retention or a log shipper to pick up. Each batch is appended and fsynced
 * before the cursor moves; a crash between the two appends the batch again (at least once).
 */
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Destination } from './shipper';

export function hourFile(at: string): string {
  return `audit-${at.slice(0, 13)}.jsonl`;
}

export function fileDestination(cfg: { dir: string }): Destination {
  return {
    async deliver(events) {
      await mkdir(cfg.dir, { recursive: true });
      const byFile = new Map<string, string[]>();
      for (const { entry, body } of events) {
        const f = hourFile(entry.at);
        const lines = byFile.get(f) ?? [];
        lines.push(`${JSON.stringify(body)}\n`);
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
