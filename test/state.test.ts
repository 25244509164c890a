import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { State, acquireLock, contextKey, resourceId } from '../lib/state.js';
import { parseConfig } from '../lib/config.js';
import { ConfigError, LockError } from '../lib/errors.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vir-state-'));
const cfg = (cluster: string) => parseConfig({ AWS_REGION: 'us-east-1', CLUSTER_NAME: cluster }).config;

test('the state file is 0600, in a 0700 folder, and holds no secret', () => {
  const file = path.join(tmp(), 'st', 'state.json');
  const s = new State(file, cfg('a'), true);
  s.set({ account: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/r' });
  assert.is(fs.statSync(file).mode & 0o777, 0o600);
  assert.is(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.throws(() => s.set({ ['vaultToken' as 'account']: 'hvs.x' }), /looks like a secret/);
  assert.not.match(fs.readFileSync(file, 'utf8'), 'hvs.');
});

test('two cluster names keep separate entries', () => {
  const file = path.join(tmp(), 'state.json');
  new State(file, cfg('one'), true).set({ roleArn: 'arn:aws:iam::1:role/one' });
  new State(file, cfg('two'), true).set({ roleArn: 'arn:aws:iam::1:role/two' });
  assert.is(new State(file, cfg('one'), true).get('roleArn'), 'arn:aws:iam::1:role/one');
  assert.is(new State(file, cfg('two'), true).get('roleArn'), 'arn:aws:iam::1:role/two');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.is(Object.keys(raw.contexts).length, 2);
});

test('the key separates endpoints and profiles as well as clusters', () => {
  const a = contextKey({ profile: undefined, awsEndpoint: 'http://127.0.0.1:4566', region: 'us-east-1', clusterName: 'c' });
  const b = contextKey({ profile: 'prod', awsEndpoint: undefined, region: 'us-east-1', clusterName: 'c' });
  assert.is.not(a, b);
});

test('dry-run state is kept in memory only', () => {
  const file = path.join(tmp(), 'state.json');
  const s = new State(file, cfg('a'), false);
  s.set({ account: '123456789012' });
  assert.is(s.get('account'), '123456789012');
  assert.not.ok(fs.existsSync(file));
});

test('a corrupted state file is one clear sentence', () => {
  const file = path.join(tmp(), 'state.json');
  fs.writeFileSync(file, '{not json');
  assert.throws(() => new State(file, cfg('a'), true), (e: unknown) => e instanceof ConfigError && /not valid JSON: move it aside/.test((e as Error).message));
  fs.writeFileSync(file, '{"something":"else"}');
  assert.throws(() => new State(file, cfg('a'), true), (e: unknown) => e instanceof ConfigError && /not a vault-irsa-runbook state file/.test((e as Error).message));
});

test('the lock refuses a second live holder and takes over a stale one', async () => {
  const file = path.join(tmp(), 'locks', 'lock');
  const key = contextKey(cfg('locked'));
  const sleeper = spawn('sleep', ['30']);
  const release = acquireLock(key, path.dirname(file));
  const name = fs.readdirSync(path.dirname(file)).find((f) => f.startsWith('lock-'))!;
  release();
  // A live other process holds the lock.
  fs.writeFileSync(path.join(path.dirname(file), name), `${sleeper.pid}\n`);
  try {
    assert.throws(() => acquireLock(key, path.dirname(file)), (e: unknown) => e instanceof LockError && /another run \(pid \d+\)/.test((e as Error).message));
  } finally {
    sleeper.kill();
  }
  await new Promise((r) => sleeper.once('exit', r));
  // Its holder is gone: the lock is stale and taken over.
  const again = acquireLock(key, path.dirname(file));
  again();
});

test('two state files for the same cluster share one lock', () => {
  const dir = path.join(tmp(), 'locks');
  const a = parseConfig({ AWS_REGION: 'us-east-1', CLUSTER_NAME: 'shared', STATE_FILE: '/tmp/a/state.json' }).config;
  const b = parseConfig({ AWS_REGION: 'us-east-1', CLUSTER_NAME: 'shared', STATE_FILE: '/tmp/b/state.json' }).config;
  assert.is(contextKey(a), contextKey(b));
  const release = acquireLock(contextKey(a), dir);
  // One lock file, whichever state file a run uses: the test above shows another live holder is refused.
  assert.is(fs.readdirSync(dir).length, 1);
  release();
  assert.is(fs.readdirSync(dir).length, 0);
});

test('records are typed and owned by a step; a state file of the first (string) form is read as such', () => {
  const file = path.join(tmp(), 'state.json');
  const s = new State(file, cfg('c'), true);
  s.markCreated('07', { kind: 'vault-policy', name: 'dev' });
  s.markCreated('07', { kind: 'vault-policy', name: 'dev' });
  assert.equal(s.created(), [{ kind: 'vault-policy', name: 'dev', step: '07' }], 'recorded once, with its step');
  assert.equal(s.createdBy('07', 'vault-policy').map(resourceId), ['vault-policy:dev']);
  assert.equal(s.createdBy('06', 'vault-policy'), []);
  s.forget({ kind: 'vault-policy', name: 'dev' });
  assert.equal(s.created(), []);
  // The first form: 'prefix:a/b' strings, owners derived from the kind (and the configured names).
  s.set({ created: ['iam-role:vault-server-c', 'iam-role:dev-role-iam-c', 'helm-release:vault-x/vault', 'helm-release:gloo-system/gloo', 'vault-role:aws/r'] });
  assert.equal(s.created().map((c) => `${c.step} ${resourceId(c)}`), ['03 iam-role:vault-server-c', '02 iam-role:dev-role-iam-c', '04 helm-release:vault-x/vault', '11 helm-release:gloo-system/gloo', '09 vault-role:aws/r']);
});

test.run();
