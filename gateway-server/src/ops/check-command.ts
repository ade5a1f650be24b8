/**
 * `tollgate-gateway check --config gateway.yaml`: validate the config and probe what boot
 * depends on (database and migrations, IdP discovery, each upstream) without starting the
 * server, running migrations or spending tokens. One line per check; exit 2 when the config is
 * invalid, 1 when a probe fails, 0 otherwise.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigFile, type Config } from '../config/load';
import { checkConfig, type CheckLine } from './checks';
import { stdIo, type CommandIo } from './init-command';

const USAGE = 'Usage: tollgate-gateway check --config <gateway.yaml> [--timeout-ms 5000]';

export function formatLine(l: CheckLine): string {
  const tag = l.status === 'ok' ? 'ok  ' : l.status === 'warn' ? 'warn' : 'FAIL';
  return `${tag}  ${l.name.padEnd(22)} ${l.detail}`;
}

export async function checkCommand(argv: string[], io: CommandIo = stdIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, 'timeout-ms': { type: 'string', default: '5000' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (!values.config) {
    io.err(`no configuration given.\n${USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfigFile(values.config, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.out(`${formatLine({ name: 'config', status: 'fail', detail: `${values.config} is not valid:` })}\n`);
    for (const p of err.problems) io.out(`        - ${p}\n`);
    return 2;
  }
  const timeoutMs = Number(values['timeout-ms']) > 0 ? Number(values['timeout-ms']) : 5000;
  let failed = false;
  await checkConfig(config, { timeoutMs, configPath: values.config, source: readFileSync(values.config, 'utf8') }, (line) => {
    if (line.status === 'fail') failed = true;
    io.out(`${formatLine(line)}\n`);
  });
  io.out(failed ? 'some checks failed: fix the lines marked FAIL, then run check again.\n' : 'all checks passed.\n');
  return failed ? 1 : 0;
}
