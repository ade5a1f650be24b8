/**
 * A real rsyslog (Debian's rsyslogd, run in the foreground without systemd) receiving RFC 5424
 * over TCP, optionally TLS (gtls driver), writing each message's MSGID and MSG as one line to a
 * file the test reads. scripts/ci-deps.sh installs rsyslog and rsyslog-gnutls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process';
import { waitFor } from './wait';
import type { TestCertificates } from './test-ca';

const RSYSLOGD = '/usr/sbin/rsyslogd';

export interface Rsyslog {
  port: number;
  /** Every message received so far: MSGID and MSG (the JSON or CEF body) per line. */
  messages(): { msgid: string; msg: string }[];
  stop(): Promise<void>;
}

export async function startRsyslog(opts: { tls?: TestCertificates } = {}): Promise<Rsyslog> {
  if (!existsSync(RSYSLOGD)) throw new Error('rsyslogd is missing: run `bash scripts/ci-deps.sh` (installs Debian rsyslog and rsyslog-gnutls)');
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rsyslog-'));
  const port = await freePort();
  const out = join(dir, 'messages.log');
  let tls = '';
  let driver = '';
  if (opts.tls) {
    writeFileSync(join(dir, 'ca.pem'), opts.tls.caPem);
    writeFileSync(join(dir, 'cert.pem'), opts.tls.cert);
    writeFileSync(join(dir, 'key.pem'), opts.tls.key);
    tls = `global(DefaultNetstreamDriverCAFile="${dir}/ca.pem" DefaultNetstreamDriverCertFile="${dir}/cert.pem" DefaultNetstreamDriverKeyFile="${dir}/key.pem")\n`;
    driver = ` StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"`;
  }
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    `global(workDirectory="${dir}")\n${tls}` +
      `module(load="imtcp"${driver})\n` +
      `template(name="line" type="string" string="%msgid% %msg%\\n")\n` +
      `ruleset(name="audit") { action(type="omfile" file="${out}" template="line" flushOnTXEnd="on" asyncWriting="off") }\n` +
      `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="audit")\n`,
  );
  let log = '';
  const child: ChildProcess = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const net = await import('node:net');
  await waitFor(`rsyslogd listens on ${port} (output: ${log})`, () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    }),
  );
  return {
    port,
    messages() {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const sp = l.indexOf(' ');
          // rsyslog keeps the space that separates structured data from MSG.
          return { msgid: l.slice(0, sp), msg: l.slice(sp + 1).trimStart() };
        });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
