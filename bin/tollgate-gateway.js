#!/usr/bin/env node
// Runs the bundled server; build it first with `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server', 'tollgate-gateway.js');
if (!existsSync(bundle)) {
  process.stderr.write('tollgate-gateway: the server is not built yet; run `npm run build` first.\n');
  process.exit(2);
}
await import(bundle);
