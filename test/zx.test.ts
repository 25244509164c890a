// lib/zx.ts: zx's $ with redaction, whose `$(options)` form sets options for one command
// without AsyncLocalStorage (on Node 20 that would switch on promise hooks for the whole
// process). The options must still reach the command, and only that command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Counted before zx is loaded: any AsyncLocalStorage.run() from here on.
let alsRuns = 0;
const run = AsyncLocalStorage.prototype.run;
AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, ...a: Parameters<typeof run>) {
  alsRuns++;
  return run.apply(this, a);
} as typeof run;

const { $, installZxRedaction, spawnNoRc } = await import('../lib/zx.js');
const { addSecret } = await import('../lib/redact.js');

test('$(options) gives that command its env and quiet, and the next command the defaults again', async () => {
  const out = await $({ quiet: true, env: { ...process.env, VIR_ZX_TEST: 'only-here' } })`printf %s "$VIR_ZX_TEST"`;
  assert.is(out.stdout, 'only-here');
  const after = await $({ quiet: true })`printf %s "\${VIR_ZX_TEST:-unset}"`;
  assert.is(after.stdout, 'unset', 'the env of one command must not stay in zx defaults');
  assert.is($.quiet, false, 'zx default quiet is back');
  assert.is(alsRuns, 0, 'no AsyncLocalStorage.run(): promise hooks stay off');
});

test('$(options) timeout and nothrow apply to the command', async () => {
  const t0 = Date.now();
  const out = await $({ quiet: true, nothrow: true, timeout: 200 })`sleep 5`;
  assert.ok(Date.now() - t0 < 3000, 'the timeout should have killed sleep');
  assert.is.not(out.exitCode, 0);
  await assert.not.throws(async () => { await $({ quiet: true, nothrow: true })`exit 3`; });
  try {
    await $({ quiet: true })`exit 3`;
    assert.unreachable('a failing command throws without nothrow');
  } catch (e) {
    assert.is((e as { exitCode?: number }).exitCode, 3);
  }
});

test("a command's bash reads no ~/.bashrc, even with a socket for stdin and no SHLVL (a program started the runbook)", async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-zx-home-'));
  const marker = path.join(home, 'rc-ran');
  fs.writeFileSync(path.join(home, '.bashrc'), `echo from-bashrc; touch '${marker}'\n`);
  // No SHLVL: bash takes itself for the top-level shell, as when CI or make bench runs make.
  const env = { PATH: process.env.PATH ?? '', HOME: home };
  const out = await $({ quiet: true, env })`printf %s "$HOME"`;
  assert.is(out.stdout, home);
  assert.not.ok(fs.existsSync(marker), '~/.bashrc ran for a zx command');
  // The control: plain `bash -c` started the same way does read it (so this test can fail).
  const plain = spawnSync('bash', ['-c', 'printf %s ok'], { env, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  assert.is(plain.stdout, 'from-bashrc\nok', plain.stderr);
  assert.ok(fs.existsSync(marker), 'plain bash -c should have read ~/.bashrc');
});

test('spawnNoRc leaves a program started without a shell as it is', () => {
  const r = spawnNoRc(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
  return new Promise<void>((resolve) => r.on('exit', (code) => { assert.is(code, 3); resolve(); }));
});

test('redaction: a registered secret in a command line is not echoed', async () => {
  installZxRedaction();
  addSecret('s3cr3t-value-for-zx');
  const lines: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string | Uint8Array) => { lines.push(String(c)); return true; }) as typeof process.stderr.write;
  try {
    await $({ verbose: true, quiet: false })`echo ${'s3cr3t-value-for-zx'} > /dev/null`;
  } finally {
    process.stderr.write = original;
  }
  const text = lines.join('');
  assert.ok(text.length > 0, 'zx should have echoed the command');
  assert.not.ok(text.includes('s3cr3t-value-for-zx'), text);
});

test.run();
