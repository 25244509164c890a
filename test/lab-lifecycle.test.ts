// Lifecycle of lab/bin/{up,status,env,sa-token,reset,down} on a SECOND lab (own
// LAB_DIR, ports and state dir), so the lab other tests use is never touched.
//
// It runs as a user on macOS or on a workshop laptop would: setsid and flock are
// not on PATH, `date` rejects %N as BSD date does, and a `docker` whose
// `docker info` succeeds is on PATH (a running Docker must not change the mode: with
// python3 and go here, LAB_MODE unset is process mode).
// run.ts lane: own (about 10 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portTaken } from '../lab/lib/procs.js';
import { pathWithout, pidAlive } from './helpers/host.js';

const run = promisify(execFile);
const bin = (name: string) => fileURLToPath(new URL(`../lab/bin/${name}`, import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'lab-lifecycle-'));

/** A PATH like the user's, less setsid and flock, with a BSD-like date and a running docker. */
function restrictedPath(): string {
  const dir = pathWithout(join(base, 'bin'), ['setsid', 'flock', 'date', 'docker']);
  writeFileSync(join(dir, 'date'), '#!/bin/sh\ncase "$*" in *%N*|*%3N*) echo "date: illegal time format" >&2; exit 1;; esac\nexec /bin/date "$@"\n');
  // A Docker engine that answers `info` and has no image and no registry (pull fails).
  writeFileSync(join(dir, 'docker'), '#!/bin/sh\n[ "$1" = info ] && { echo "Server Version: 28.2.2"; exit 0; }\necho "Error response from daemon: stand-in engine: $1 refused" >&2\nexit 1\n');
  chmodSync(join(dir, 'date'), 0o755);
  chmodSync(join(dir, 'docker'), 0o755);
  return dir;
}

const ports = { LAB_MOTO_PORT: '24566', LAB_VAULT_PORT: '28200', LAB_ISSUER_PORT: '28181', LAB_STS_PROXY_PORT: '28182' };
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: restrictedPath(),
  LAB_DIR: join(base, 'lab'),
  LAB_STATE_DIR: join(base, 'state'),
  ...ports,
  CLUSTER_NAME: 'lifecycle-a',
};
delete env.LAB_MODE;
// The Kubernetes part (CI sets LAB_K8S=1 for the main lab) would want the main lab's ports.
delete env.LAB_K8S;
delete env.AWS_REGION;
const lab = (name: string, args: string[] = [], extra: Record<string, string> = {}) =>
  run(bin(name), args, { env: { ...env, ...extra }, timeout: 900_000 });
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e: { code: number; stderr: string }) => e);
const recordedPids = () => readdirSync(join(env.LAB_DIR!, 'pids')).map((f) => (JSON.parse(readFileSync(join(env.LAB_DIR!, 'pids', f), 'utf8')) as { pid: number }).pid);

let pids: number[] = [];

test('the restricted PATH really lacks setsid and flock, and its date rejects %N', async () => {
  for (const t of ['setsid', 'flock']) assert.not.ok(existsSync(join(env.PATH!, t)), `${t} hidden`);
  const err = await fails(run('date', ['+%s%3N'], { env }));
  assert.ok(err, 'date +%N fails like BSD date');
});

test('env before up fails with one sentence', async () => {
  const err = await fails(lab('env'));
  assert.ok(err);
  assert.is(err!.code, 1);
  assert.is(err!.stderr.trim(), 'the lab is not running: run `make lab-up`');
});

test('LAB_MODE=docker whose image cannot be pulled: one sentence naming the image and the setting, exit 1, nothing started', async () => {
  const err = await fails(lab('up', [], { LAB_MODE: 'docker' }));
  assert.is(err?.code, 1);
  assert.is(err!.stderr.trim().split('\n').length, 1, err!.stderr);
  assert.match(err!.stderr, /^up: docker pull motoserver\/moto:5\.2\.5 failed: .*set LAB_MOTO_IMAGE/);
  assert.not.ok(existsSync(join(env.LAB_DIR!, 'pids')) && readdirSync(join(env.LAB_DIR!, 'pids')).length > 0, 'nothing started');
});

test('up starts every service in process mode although docker runs, and reports readiness', async () => {
  const { stdout } = await lab('up');
  assert.match(stdout, /^up: process mode/m);
  for (const s of ['moto', 'issuer', 'sts-proxy', 'vault']) assert.match(stdout, new RegExp(`^${s}\\s+ready in \\d+\\.\\ds`, 'm'));
  pids = recordedPids();
  assert.is(pids.length, 4);
  for (const p of pids) assert.ok(pidAlive(p), `pid ${p} alive`);
  const token = readFileSync(join(env.LAB_DIR!, 'secrets', 'root-token'), 'utf8').trim();
  assert.not.ok(stdout.includes(token), 'up never prints the root token');
  assert.is(JSON.parse(readFileSync(join(env.LAB_DIR!, 'lab.json'), 'utf8')).vaultCluster, 'lifecycle-a');
});

test('second up is harmless; another CLUSTER_NAME adds a cluster', async () => {
  const again = await lab('up');
  assert.match(again.stdout, /already running/);
  const added = await lab('up', [], { CLUSTER_NAME: 'lifecycle-b' });
  assert.match(added.stdout, /created EKS cluster lifecycle-b/);
  assert.ok(existsSync(join(env.LAB_DIR!, 'clusters', 'lifecycle-b.json')));
  const tok = await lab('sa-token', ['default', 'x'], { CLUSTER_NAME: 'lifecycle-b' });
  const claims = JSON.parse(Buffer.from(tok.stdout.split('.')[1]!, 'base64url').toString()) as { iss: string; sub: string };
  assert.is(claims.iss, JSON.parse(readFileSync(join(env.LAB_DIR!, 'clusters', 'lifecycle-b.json'), 'utf8')).issuer);
  assert.is(claims.sub, 'system:serviceaccount:default:x');
});

test('env prints the exports; the user\'s CLUSTER_NAME and AWS_REGION win', async () => {
  const { stdout } = await lab('env', [], { CLUSTER_NAME: '' });
  assert.match(stdout, /^unset AWS_PROFILE AWS_SESSION_TOKEN/m, 'a profile from the shell must not override the lab keys');
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_AWS_ENDPOINT_URL', 'CLUSTER_NAME', 'LAB_ISSUER_URL', 'LAB_DIR', 'SA_TOKEN_COMMAND'])
    assert.match(stdout, new RegExp(`^export ${k}='`, 'm'));
  assert.match(stdout, /VAULT_ADDR='http:\/\/127\.0\.0\.1:28200'/);
  assert.match(stdout, /^export CLUSTER_NAME='lifecycle-a'$/m, 'no CLUSTER_NAME in the shell: the lab\'s');

  const mine = await lab('env', [], { CLUSTER_NAME: 'lifecycle-b', AWS_REGION: 'us-east-1' });
  assert.not.match(mine.stdout, /CLUSTER_NAME=/, 'the shell\'s CLUSTER_NAME is never replaced');
  assert.not.match(mine.stdout, /export AWS_REGION=/, 'nor its AWS_REGION');

  const unknown = await fails(lab('env', [], { CLUSTER_NAME: 'team-9' }));
  assert.is(unknown?.code, 1);
  assert.match(unknown!.stderr, /the lab has no cluster team-9.*CLUSTER_NAME=team-9 make lab-up/);
  const region = await fails(lab('env', [], { AWS_REGION: 'eu-west-1' }));
  assert.is(region?.code, 1);
  assert.match(region!.stderr, /the lab runs in region us-east-1, but AWS_REGION=eu-west-1/);

  const st = await lab('status');
  assert.is((st.stdout.match(/ answers /g) ?? []).length, 4);
});

test('reset gives fresh servers and removes the state dir', async () => {
  mkdirSync(env.LAB_STATE_DIR!, { recursive: true });
  writeFileSync(join(env.LAB_STATE_DIR!, 'state.json'), '{}');
  const { stdout } = await lab('reset');
  assert.match(stdout, /lab ready in/);
  assert.not.ok(existsSync(env.LAB_STATE_DIR!));
  assert.not.ok(existsSync(join(env.LAB_DIR!, 'clusters', 'lifecycle-b.json')), 'added clusters are gone');
  for (const p of pids) assert.not.ok(pidAlive(p), `old pid ${p} is gone`);
  pids = recordedPids();
});

test('down stops every process it started, leaves nothing listening, and is idempotent', async () => {
  const { stdout } = await lab('down');
  assert.is((stdout.match(/stopped /g) ?? []).length, 4);
  for (const p of pids) assert.not.ok(pidAlive(p), `pid ${p} is gone`);
  for (const p of Object.values(ports)) assert.not.ok(await portTaken(Number(p)), `nothing listens on ${p}`);
  assert.match((await lab('down')).stdout, /nothing was running/);
  const err = await fails(lab('status'));
  assert.is(err?.code, 1);
});

test('down leaves alone a pid that no longer runs the lab\'s program', async () => {
  // A recorded pid reused by another program (here: this test's own node process).
  mkdirSync(join(env.LAB_DIR!, 'pids'), { recursive: true });
  writeFileSync(join(env.LAB_DIR!, 'pids', 'moto.pid'), JSON.stringify({ pid: process.pid, command: '/x/moto_server', startedAt: '' }));
  const { stdout } = await lab('down');
  assert.match(stdout, new RegExp(`pid ${process.pid} is no longer moto`));
  assert.ok(pidAlive(process.pid));
});

test.after(async () => {
  await lab('down').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
