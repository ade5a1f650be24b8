/**
 * Workspace Trust and the files the extension writes: the pure TrustGate (nothing written in an
 * untrusted folder until trust is granted), the proxy-secret file written 0600 whatever was
 * there before, and the manifest's promises (limited support in untrusted workspaces, the
 * gateway URL out of a folder's reach).
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustGate, untrustedNotice, type TrustSource } from '../../extension/src/settings/trust';
import { writePrivateFile } from '../../extension/src/settings/private-file';

class FakeTrust implements TrustSource {
  isTrusted = false;
  private listeners: (() => void)[] = [];
  onDidGrant(listener: () => void) {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
  grant(): void {
    this.isTrusted = true;
    for (const l of this.listeners) l();
  }
}

describe('extension Workspace Trust', () => {
  describe('TrustGate', () => {
    it('writes nothing in an untrusted folder and says what it held back', async () => {
      const source = new FakeTrust();
      const gate = new TrustGate(source);
      let wrote = 0;
      const result = await gate.write('managed settings', async () => ++wrote, -1);
      assert.equal(result, -1);
      assert.equal(wrote, 0);
      await gate.write('VS Code settings', async () => ++wrote, -1);
      assert.deepEqual(gate.withheld(), ['managed settings', 'VS Code settings']);
      assert.match(untrustedNotice(gate.withheld())!, /not trusted, so Tollgate did not write managed settings or VS Code settings into it/);
    });

    it('runs what waited for trust once it is granted, and writes from then on', async () => {
      const source = new FakeTrust();
      const gate = new TrustGate(source);
      const ran: string[] = [];
      gate.whenTrusted(() => ran.push('env'));
      await gate.write('managed settings', async () => ran.push('write'), 0);
      assert.deepEqual(ran, []);
      source.grant();
      assert.deepEqual(ran, ['env']);
      assert.deepEqual(gate.withheld(), []);
      assert.equal(untrustedNotice(gate.withheld()), undefined);
      assert.equal(await gate.write('managed settings', async () => 'written', 'held'), 'written');
    });

    it('in a trusted folder runs at once', async () => {
      const source = new FakeTrust();
      source.isTrusted = true;
      const gate = new TrustGate(source);
      const ran: string[] = [];
      gate.whenTrusted(() => ran.push('env'));
      assert.deepEqual(ran, ['env']);
      assert.equal(await gate.write('managed settings', async () => 7, 0), 7);
      assert.deepEqual(gate.withheld(), []);
    });
  });

  describe('writePrivateFile (the proxy secret lands in .claude/settings.local.json)', () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tollgate-private-'));
    });

    it('creates the file readable by its owner only, even with a permissive umask', async () => {
      const old = process.umask(0o000);
      try {
        await writePrivateFile(join(dir, 'settings.local.json'), '{"env":{}}\n');
      } finally {
        process.umask(old);
      }
      assert.equal(mode(join(dir, 'settings.local.json')), 0o600);
      assert.equal(readFileSync(join(dir, 'settings.local.json'), 'utf8'), '{"env":{}}\n');
      assert.deepEqual(readdirSync(dir), ['settings.local.json'], 'no temporary file left behind');
    });

    it('tightens a file that was world-readable before', async () => {
      const file = join(dir, 'settings.local.json');
      writeFileSync(file, '{"model":"mine"}\n');
      chmodSync(file, 0o644);
      await writePrivateFile(file, '{"model":"mine","env":{"ANTHROPIC_AUTH_TOKEN":"tgl-x"}}\n');
      assert.equal(mode(file), 0o600);
      assert.match(readFileSync(file, 'utf8'), /tgl-x/);
    });

    it('replaces a symlink planted at the path instead of writing through it', async () => {
      const target = join(dir, 'elsewhere.txt');
      writeFileSync(target, 'untouched');
      const file = join(dir, 'settings.local.json');
      symlinkSync(target, file);
      await writePrivateFile(file, 'secret');
      assert.equal(readFileSync(target, 'utf8'), 'untouched');
      assert.equal(lstatSync(file).isSymbolicLink(), false);
      assert.equal(mode(file), 0o600);
      assert.equal(existsSync(target), true);
    });
  });

  describe('extension/package.json', () => {
    const manifest = JSON.parse(readFileSync(join('extension', 'package.json'), 'utf8'));

    it('declares limited support in untrusted workspaces, with the gateway URL restricted', () => {
      const u = manifest.capabilities.untrustedWorkspaces;
      assert.equal(u.supported, 'limited');
      assert.deepEqual(u.restrictedConfigurations, ['tollgate.gatewayUrl']);
    });

    it('makes tollgate.gatewayUrl application-scoped: no folder can re-point the extension', () => {
      assert.equal(manifest.contributes.configuration.properties['tollgate.gatewayUrl'].scope, 'application');
    });
  });
});
