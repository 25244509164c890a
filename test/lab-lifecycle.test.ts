// Lifecycle of lab/bin/{up,status,env,down,reset} on a SECOND lab (own LAB_DIR,
// own ports, own state dir), so the lab other tests use is never touched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const bin = (name: string) => fileURLToPath(new URL(`../lab/bin/${name}`, import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'lab-lifecycle-'));
const env = {
  ...process.env,
  LAB_DIR: join(base, 'lab'),
  LAB_STATE_DIR: join(base, 'state'),
  LAB_MOTO_PORT: '24566',
  LAB_VAULT_PORT: '28200',
  LAB_ISSUER_PORT: '28181',
  LAB_STS_PROXY_PORT: '28182',
  CLUSTER_NAME: 'lifecycle-a',
};
const lab = (name: string, args: string[] = [], extra: Record<string, string> = {}) =>
  run(bin(name), args, { env: { ...env, ...extra }, timeout: 180_000 });
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e: { code: number; stderr: string }) => e);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let pids: number[] = [];

test('env before up fails with one sentence', async () => {
  const err = await fails(lab('env'));
  assert.ok(err);
  assert.is(err!.code, 1);
  assert.is(err!.stderr.trim(), 'the lab is not running: run `make lab-up`');
});

test('up starts every service and reports readiness', async () => {
  const { stdout } = await lab('up');
  for (const s of ['moto', 'issuer', 'sts-proxy', 'vault']) assert.match(stdout, new RegExp(`^${s}\\s+ready in`, 'm'));
  pids = readdirSync(join(env.LAB_DIR, 'pids')).map((f) => Number(readFileSync(join(env.LAB_DIR, 'pids', f), 'utf8')));
  assert.is(pids.length, 4);
  for (const p of pids) assert.ok(alive(p), `pid ${p} alive`);
  const token = readFileSync(join(env.LAB_DIR, 'secrets', 'root-token'), 'utf8').trim();
  assert.not.ok(stdout.includes(token), 'up never prints the root token');
});

test('second up is harmless; another CLUSTER_NAME adds a cluster', async () => {
  const again = await lab('up');
  assert.match(again.stdout, /already running/);
  const added = await lab('up', [], { CLUSTER_NAME: 'lifecycle-b' });
  assert.match(added.stdout, /created EKS cluster lifecycle-b/);
  assert.ok(existsSync(join(env.LAB_DIR, 'clusters', 'lifecycle-b.json')));
  const tok = await lab('sa-token', ['default', 'x', '--cluster', 'lifecycle-b']);
  const claims = JSON.parse(Buffer.from(tok.stdout.split('.')[1]!, 'base64url').toString()) as { iss: string };
  assert.is(claims.iss, JSON.parse(readFileSync(join(env.LAB_DIR, 'clusters', 'lifecycle-b.json'), 'utf8')).issuer);
});

test('env prints the exports, status sees all four', async () => {
  const { stdout } = await lab('env');
  assert.match(stdout, /^unset AWS_PROFILE AWS_SESSION_TOKEN/m, 'a profile from the shell must not override the lab keys');
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_AWS_ENDPOINT_URL', 'CLUSTER_NAME', 'LAB_ISSUER_URL', 'LAB_DIR'])
    assert.match(stdout, new RegExp(`^export ${k}='`, 'm'));
  assert.not.match(stdout, /OIDC_ISSUER/);
  assert.match(stdout, /VAULT_ADDR='http:\/\/127\.0\.0\.1:28200'/);
  const st = await lab('status');
  assert.is((st.stdout.match(/ answers /g) ?? []).length, 4);
});

test('reset gives fresh servers and removes the state dir', async () => {
  mkdirSync(env.LAB_STATE_DIR, { recursive: true });
  writeFileSync(join(env.LAB_STATE_DIR, 'state.json'), '{}');
  const { stdout } = await lab('reset');
  assert.match(stdout, /lab ready in/);
  assert.not.ok(existsSync(env.LAB_STATE_DIR));
  assert.not.ok(existsSync(join(env.LAB_DIR, 'clusters', 'lifecycle-b.json')), 'added clusters are gone');
  for (const p of pids) assert.not.ok(alive(p), `old pid ${p} is gone`);
  pids = readdirSync(join(env.LAB_DIR, 'pids')).map((f) => Number(readFileSync(join(env.LAB_DIR, 'pids', f), 'utf8')));
});

test('down stops every process it started and is idempotent', async () => {
  const { stdout } = await lab('down');
  assert.is((stdout.match(/stopped /g) ?? []).length, 4);
  for (const p of pids) assert.not.ok(alive(p), `pid ${p} is gone`);
  assert.match((await lab('down')).stdout, /nothing was running/);
  const err = await fails(lab('status'));
  assert.is(err?.code, 1);
});

test.after(async () => {
  await lab('down').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
