/**
 * `tollgate-gateway audit verify --config gateway.yaml`: check every audit chain and report the
 * first broken link of each. Exit 0 when everything verifies, 1 when a chain is broken, 2 on
 * usage or configuration mistakes. With the embedded store, stop the gateway first (PGlite
 * allows one process per data folder).
 */
import { parseArgs } from 'node:util';
import { SUBCOMMANDS } from '../commands';
import { ConfigError, loadConfigFile } from '../config/load';
import { openStore } from '../store/open';
import { verifyAudit } from './verify';
import { BUNDLE_USAGE, exportCommand, verifyBundleCommand } from './bundle/command';

const USAGE = `Usage:
  tollgate-gateway audit verify --config <gateway.yaml> [--json]
      Check the audit log's hash chains; reports the first broken link of each chain.
${BUNDLE_USAGE}`;

export async function auditCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'export') return exportCommand(rest);
  if (action === 'verify-bundle') return verifyBundleCommand(rest);
  if (action !== 'verify') {
    process.stderr.write(`${action ? `unknown audit command "${action}"\n` : ''}${USAGE}\n`);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!values.config) {
    process.stderr.write(`no configuration given.\n${USAGE}\n`);
    return 2;
  }
  let db;
  try {
    const config = loadConfigFile(values.config);
    db = await openStore(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tollgate: configuration is not valid:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 2;
    }
    process.stderr.write(`tollgate: cannot open the store: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    const report = await verifyAudit(db);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else if (report.ok) {
      process.stdout.write(`audit log verified: ${report.rows} rows in ${report.chains} chains (${report.checkpoints} retention checkpoints), no broken links.\n`);
    } else {
      process.stdout.write(`audit log BROKEN: ${report.breaks.length} of ${report.chains} chains do not verify (${report.rows} rows read).\n`);
      for (const b of report.breaks) process.stdout.write(`  chain ${b.chain}: first broken link at row id ${b.id} (seq ${b.seq}): ${b.kind}: ${b.message}\n`);
    }
    return report.ok ? 0 : 1;
  } finally {
    await db.close().catch(() => {});
  }
}

SUBCOMMANDS.audit = auditCommand;
