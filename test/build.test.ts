// What users run is the bundle in dist/ (build.mjs); stale output must never run: a
// source changed after the build makes the next `make` rebuild before it runs anything,
// and lab/bin/* (lab/lib/node-run) falls back to the TypeScript until then.
// run.ts lane: first
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const stamp = path.join(root, 'dist', '.built');

function make(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('make', args, { cwd: root, encoding: 'utf8', env: { ...process.env, AWS_REGION: 'us-east-1', PRINT: '1', NO_COLOR: '1' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Which file lab/lib/node-run hands to node (sh -x shows the exec line). */
function nodeRunTarget(): string {
  const r = spawnSync('sh', ['-x', path.join(root, 'lab', 'lib', 'node-run'), 'sa-token'], { cwd: root, encoding: 'utf8', env: { ...process.env, LAB_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'vir-lab-')) } });
  const exec = r.stderr.split('\n').find((l) => /exec node /.test(l)) ?? '';
  return exec.includes('dist/lab/sa-token.cjs') ? 'dist' : exec.includes('lab/lib/cli.ts') ? 'tsx' : `unknown: ${r.stderr}`;
}

/** Make a source newer than the build, as an edit would: now, at least a second after the build started. */
function touch(rel: string): void {
  // Not in the future: a rebuild starting now must count as newer than the edit.
  const wait = fs.statSync(stamp).mtimeMs + 1000 - Date.now();
  if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
  const t = new Date();
  fs.utimesSync(path.join(root, rel), t, t);
}

test('make builds dist/ and then finds it up to date', () => {
  const built = make('-s', 'build');
  assert.is(built.status, 0, built.out);
  assert.ok(fs.existsSync(path.join(root, 'dist', 'runbook', 'all.js')));
  assert.ok(fs.existsSync(path.join(root, 'dist', 'lab', 'cli.js')));
  assert.is(make('-q', 'dist/.built').status, 0, 'dist/ should be up to date right after a build');
  assert.is(nodeRunTarget(), 'dist');
});

for (const source of ['lib/run.ts', 'runbook/05-enable-aws-auth.ts', 'lab/lib/cli.ts']) {
  test(`a newer ${source} makes dist/ stale: lab/bin falls back to tsx, and the next make step rebuilds before it runs`, () => {
    assert.is(make('-s', 'build').status, 0);
    touch(source);
    assert.is(make('-q', 'dist/.built').status, 1, `make should see dist/ as stale after ${source} changed`);
    assert.is(nodeRunTarget(), 'tsx', 'lab/lib/node-run must not run a stale dist/lab/cli.js');
    const before = fs.statSync(stamp).mtimeMs;
    const r = make('-s', 'step-05');
    assert.is(r.status, 0, r.out);
    assert.match(r.out, '== 05 Vault AWS auth method');
    assert.ok(fs.statSync(stamp).mtimeMs > before, 'make step-05 should have rebuilt dist/ first');
    assert.is(make('-q', 'dist/.built').status, 0);
    assert.is(nodeRunTarget(), 'dist');
  });
}

test('a newer package-lock.json makes dist/ stale too (npm ci would run first)', () => {
  assert.is(make('-s', 'build').status, 0);
  const lock = path.join(root, 'package-lock.json');
  const was = fs.statSync(lock);
  try {
    touch('package-lock.json');
    assert.is(make('-q', 'dist/.built').status, 1);
    assert.is(nodeRunTarget(), 'tsx');
  } finally {
    fs.utimesSync(lock, was.atime, was.mtime);
  }
  assert.is(make('-q', 'dist/.built').status, 0);
});

test('a step added to runbook/ (its folder changes) makes dist/ stale', () => {
  assert.is(make('-s', 'build').status, 0);
  touch('runbook');
  assert.is(make('-q', 'dist/.built').status, 1);
  assert.is(make('-s', 'build').status, 0);
});

test.run();
