/**
 * `tollgate-gateway init [--out gateway.yaml] [--force] [--public-url U] [--issuer U]
 * [--client-id ID] [--email-domain D]`: write the pilot starter config. Refuses to replace an
 * existing file unless --force, because a hand-edited config is worth more than a template.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PILOT_ENV_VARS, pilotTemplate } from './pilot-template';

const USAGE = `Usage: tollgate-gateway init [--out gateway.yaml] [--force]
         [--public-url https://gw.internal] [--issuer https://idp] [--client-id id] [--email-domain example.com]`;

export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdIo: CommandIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export async function initCommand(argv: string[], io: CommandIo = stdIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', short: 'o', default: 'gateway.yaml' },
        force: { type: 'boolean', default: false },
        'public-url': { type: 'string' },
        issuer: { type: 'string' },
        'client-id': { type: 'string' },
        'email-domain': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  const path = values.out!;
  if (existsSync(path) && !values.force) {
    io.err(`${path} already exists; nothing written. Use --force to replace it, or --out to write elsewhere.\n`);
    return 1;
  }
  const text = pilotTemplate({
    publicUrl: values['public-url'],
    issuer: values.issuer,
    clientId: values['client-id'],
    emailDomain: values['email-domain'],
  });
  try {
    writeFileSync(path, text, { mode: 0o644 });
  } catch (err) {
    io.err(`cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).\n`);
    return 1;
  }
  io.out(
    [
      `wrote ${path}: a starter configuration for a pilot of 20-50 developers.`,
      'Next:',
      `  1. edit listen.public_url, oidc.issuer, oidc.client_id and allowed_email_domains`,
      `  2. set ${PILOT_ENV_VARS.join(', ')} in the environment`,
      `     (GATEWAY_JWT_SECRET: openssl rand -hex 32)`,
      `  3. tollgate-gateway check --config ${path}`,
      `  4. tollgate-gateway --config ${path}`,
      '',
    ].join('\n'),
  );
  return 0;
}
