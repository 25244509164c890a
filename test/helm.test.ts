// helm's presence: found on PATH without running it; `helm version` once per process and
// binary where it is there (a fake helm that logs its calls).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasHelm } from '../lib/helm.js';

function fakeHelm(code: number): { dir: string; calls: () => string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-helm-'));
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(path.join(dir, 'helm'), `#!/bin/sh\necho "$*" >> '${log}'\nexit ${code}\n`, { mode: 0o755 });
  return { dir, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

async function withPath<T>(p: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env.PATH;
  process.env.PATH = p;
  try {
    return await fn();
  } finally {
    process.env.PATH = old;
  }
}

test('no helm on PATH: false, and no process is started', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-nohelm-'));
  assert.is(await withPath(empty, () => hasHelm()), false);
});

test('helm on PATH: `helm version` decides, once per process and binary', async () => {
  const good = fakeHelm(0);
  const broken = fakeHelm(1);
  await withPath(`${good.dir}${path.delimiter}/bin`, async () => {
    assert.is(await hasHelm(), true);
    assert.is(await hasHelm(), true);
  });
  assert.equal(good.calls(), ['version --short']);
  assert.is(await withPath(`${broken.dir}${path.delimiter}/bin`, () => hasHelm()), false, 'a helm that does not run');
  assert.equal(broken.calls(), ['version --short']);
});

test.run();
