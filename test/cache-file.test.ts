// lib/cache-file.ts: a cache file is written whole or not at all, and a failure is no error.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeCacheFile } from '../lib/cache-file.js';

test('writing into a folder that cannot be made fails quietly and leaves no temporary file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-cc-'));
  try {
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, '');
    assert.is(writeCacheFile(path.join(blocker, 'sub', 'x.v8'), Buffer.from('y')), false);
    assert.ok(writeCacheFile(path.join(dir, 'ok', 'x.v8'), 'y'));
    assert.equal(fs.readdirSync(path.join(dir, 'ok')), ['x.v8']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a rewrite replaces the file whole', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-cf-'));
  try {
    const f = path.join(dir, 'c.json');
    assert.ok(writeCacheFile(f, 'first'));
    assert.ok(writeCacheFile(f, 'second'));
    assert.is(fs.readFileSync(f, 'utf8'), 'second');
    assert.equal(fs.readdirSync(dir), ['c.json'], 'no temporary file is left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
