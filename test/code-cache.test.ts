// lib/code-cache.ts: the runbook scripts in dist/ start through V8's code cache. The cache
// is an optimisation only: a run without it, with a corrupt one or with a dist/ it cannot
// write to prints the same as a run with it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cacheFileFor, decodeCache, encodeCache, shouldWrite } from '../lib/code-cache.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const bundle = path.join(root, 'dist', 'runbook', 'runbook.cjs');

test('each script has its own cache file beside the bundle folder', () => {
  assert.is(cacheFileFor('/r/dist/runbook/runbook.cjs', 'runbook/all.ts'), path.normalize('/r/dist/.code-cache/all.v8'));
  assert.is(cacheFileFor('/r/dist/runbook/runbook.cjs', 'runbook/05-enable-aws-auth.ts'), path.normalize('/r/dist/.code-cache/05-enable-aws-auth.v8'));
});

test('a cache file keeps the bytecode figure and V8 data; anything else is no cache', () => {
  const data = Buffer.from('v8 cached data');
  const back = decodeCache(encodeCache({ bytecode: 123456, data }));
  assert.equal(back?.bytecode, 123456);
  assert.equal(back?.data.toString(), 'v8 cached data');
  assert.is(decodeCache(undefined), undefined);
  assert.is(decodeCache(Buffer.from('short')), undefined);
});

test('the cache is written when missing or rejected, and again only when a run compiled 10% more', () => {
  const had = { bytecode: 1000, data: Buffer.from('x') };
  assert.ok(shouldWrite(undefined, false, 10));
  assert.ok(shouldWrite(had, true, 10), 'rejected by V8 (another Node, a rebuilt bundle): write');
  assert.not.ok(shouldWrite(had, false, 1000));
  assert.not.ok(shouldWrite(had, false, 1099));
  assert.ok(shouldWrite(had, false, 1101));
});

// The real bundle, copied into a folder of its own (so that no other test's run of it can
// touch this cache): `make reference` output (no network) is the same without a cache, with
// the cache that run wrote, and with a corrupt cache, which is then replaced.
const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-cc-dist-'));
test.after(() => fs.rmSync(copy, { recursive: true, force: true }));
const copied = path.join(copy, 'dist', 'runbook');
const cache = cacheFileFor(path.join(copied, 'runbook.cjs'), 'runbook/reference.ts');
const reference = () => spawnSync(process.execPath, [path.join(copied, 'reference.js')], { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir() } });

test('dist/runbook: a run writes the cache, the next one reads it, a corrupt one is replaced', () => {
  if (!fs.existsSync(bundle)) assert.unreachable('dist/ is not built: make build (make test builds it first)');
  fs.mkdirSync(copied, { recursive: true });
  for (const f of ['runbook.cjs', 'load.cjs', 'reference.js', 'package.json']) fs.copyFileSync(path.join(root, 'dist', 'runbook', f), path.join(copied, f));
  fs.rmSync(cache, { force: true });
  const cold = reference();
  assert.is(cold.status, 0, cold.stderr);
  assert.ok(cold.stdout.includes('# The copy-paste reference'), 'the reference should be printed');
  const written = decodeCache(fs.readFileSync(cache));
  assert.ok(written && written.data.length > 1000, 'the run should have left V8 cached data');

  const warm = reference();
  assert.is(warm.status, 0, warm.stderr);
  assert.is(warm.stdout, cold.stdout);
  assert.ok(fs.readFileSync(cache).equals(encodeCache(written!)), 'an accepted cache from a run like this one is not rewritten');

  fs.writeFileSync(cache, encodeCache({ bytecode: 1, data: Buffer.from('not V8 data at all') }));
  const corrupt = reference();
  assert.is(corrupt.status, 0, corrupt.stderr);
  assert.is(corrupt.stdout, cold.stdout);
  assert.ok(decodeCache(fs.readFileSync(cache))!.data.length > 1000, 'V8 rejected the corrupt data: the run should have written a real cache');
});

test.run();
