/**
 * A throw-away certificate authority and one leaf certificate it signed (openssl, valid one day),
 * for servers that must look like real HTTPS endpoints to the code under test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  caPath: string;
  caPem: string;
  key: Buffer;
  cert: Buffer;
}

export function makeTestCertificates(names: { dns?: string[]; ip?: string[] }, dir = mkdtempSync(join(tmpdir(), 'tollgate-ca-'))): TestCertificates {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const cn = names.dns?.[0] ?? names.ip?.[0] ?? 'localhost';
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=Tollgate test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${cn}`]);
  const san = [...(names.dns ?? []).map((d) => `DNS:${d}`), ...(names.ip ?? []).map((i) => `IP:${i}`)].join(',');
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'san.ext']);
  const caPath = join(dir, 'ca.pem');
  return { caPath, caPem: readFileSync(caPath, 'utf8'), key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.pem')) };
}
