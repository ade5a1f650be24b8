/**
 * tollgate-gateway: the command operators run.
 *   tollgate-gateway --config gateway.yaml    start the gateway
 *   tollgate-gateway --starter                 self-contained local gateway (what `npm start` runs)
 * Config mistakes print one line per problem and exit 2, never a stack trace.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile, resolveConfig, type Config } from './config/load';
import './ops/commands';
import { startGateway } from './server';
import { starterConfig } from './config/starter';
import { DataDirLockedError } from './store/data-dir-lock-error';
import { SUBCOMMANDS } from './commands';
import './audit/command';

const USAGE = `Usage:
  tollgate-gateway --config <gateway.yaml>   start the gateway
  tollgate-gateway --starter                 start a self-contained local gateway (embedded store, dev sign-in)
  tollgate-gateway audit verify --config <gateway.yaml>   check the audit log's hash chains
  tollgate-gateway --help`;

/** Problems found while loading the file or while features build themselves at boot (e.g. policies). */
function reportConfigError(err: ConfigError): number {
  process.stderr.write(`tollgate: configuration is not valid:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const sub = argv[0] && !argv[0].startsWith('-') ? SUBCOMMANDS[argv[0]] : undefined;
  if (argv[0] && !argv[0].startsWith('-') && !sub) {
    process.stderr.write(`unknown command "${argv[0]}"\n${USAGE}\n`);
    return 2;
  }
  if (sub) return sub(argv.slice(1));
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, starter: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: Config;
  let onStarted: ((url: string) => void) | undefined;
  try {
    if (values.config) config = loadConfigFile(values.config);
    else if (values.starter) {
      const starter = await starterConfig(process.env);
      config = resolveConfig(starter.raw, process.env);
      onStarted = starter.banner;
    } else {
      process.stderr.write(`no configuration given.\n${USAGE}\n`);
      return 2;
    }
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err);
    throw err;
  }
  try {
    const gw = await startGateway(config, { installSignalHandlers: true });
    onStarted?.(gw.url);
    return -1; // keep running
  } catch (err) {
    if (err instanceof ConfigError) return reportConfigError(err);
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`tollgate: ${err.message}\n`);
      return 2;
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`tollgate: port ${config.listen.port} on ${config.listen.host} is already in use; stop the other process or set listen.port (or PORT for --starter).\n`);
      return 2;
    }
    process.stderr.write(`tollgate: could not start: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    process.stderr.write(`tollgate: unexpected error: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
