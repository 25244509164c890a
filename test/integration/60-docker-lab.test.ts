// Docker mode's container part, for real: `LAB_MODE=docker make lab` on a lab of its own
// (own LAB_DIR, ports and state) with the images lab/bin/images builds from the process
// lab's tools (LAB_IMAGES=local: this kind of machine pulls no image). moto, the STS front
// and Vault run as containers; every AWS and Vault step runs and verify passes; down
// leaves no container or network of the lab (the images stay, cached). Skipped, with the
// reason printed, only when no Docker engine answers.
// run.ts lane: own (about 30 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerEngine, dockerNames, LAB_LABEL } from '../../lab/lib/docker.js';
import { localImageTags } from '../../lab/lib/images.js';
import { labCacheDir } from '../../lab/lib/settings.js';
import { pidAlive, pathWithout } from '../helpers/host.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'lab-docker-'));
const ports = { LAB_MOTO_PORT: '26566', LAB_VAULT_PORT: '30200', LAB_ISSUER_PORT: '30181', LAB_STS_PROXY_PORT: '30182' };
const env: NodeJS.ProcessEnv = {
  ...process.env,
  LAB_MODE: 'docker',
  LAB_IMAGES: 'local',
  LAB_DIR: join(base, 'lab'),
  LAB_STATE_DIR: join(base, 'state'),
  STATE_FILE: join(base, 'state', 'state.json'),
  GLOO_VALUES_FILE: join(base, 'values.yaml'),
  CLUSTER_NAME: 'docker-lab',
  ...ports,
};
for (const k of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_AWS_ENDPOINT_URL', 'AWS_REGION', 'SA_TOKEN_COMMAND', 'LAB_K8S', 'KUBECONFIG', 'VAULT_HELM_CHART', 'GLOO_HELM_CHART', 'LAB_MOTO_IMAGE', 'LAB_VAULT_IMAGE', 'LAB_NODE_IMAGE', 'LAB_LOCALSTACK_IMAGE', 'LOCALSTACK_AUTH_TOKEN'])
  delete env[k];
const names = dockerNames(env.LAB_DIR!);
const make = (target: string, extra: Record<string, string> = {}) => run('make', ['-s', target], { cwd: root, env: { ...env, ...extra }, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
const lab = (verb: string, extra: Record<string, string> = {}) => run(join(root, 'lab', 'bin', verb), [], { cwd: root, env: { ...env, ...extra }, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
const fails = (p: Promise<unknown>) => p.then(() => undefined, (e: { code: number; stdout: string; stderr: string }) => e);

/** Every container and network with this lab's label (docker's own answer, not the lab's). */
function labObjects(): string[] {
  const ps = execFileSync('docker', ['ps', '-a', '--filter', `label=${names.label}`, '--format', '{{.Names}}'], { encoding: 'utf8' });
  const nets = execFileSync('docker', ['network', 'ls', '--filter', `label=${names.label}`, '--format', '{{.Name}}'], { encoding: 'utf8' });
  return [...ps.split('\n'), ...nets.split('\n')].map((s) => s.trim()).filter(Boolean);
}

const engine = await dockerEngine();
if (!engine.ok) {
  // Never pretend: say why, and let the runner count the tests as skipped.
  console.log(`\n  SKIPPED (7 tests): Docker mode's container part needs a Docker engine, and here ${engine.short}`);
}
const dtest = engine.ok ? test : test.skip;

let issuerPid = 0;

dtest('LAB_MODE=docker make lab: containers up, every step 01-12 and verify pass against them', async () => {
  const t0 = Date.now();
  const { stdout, stderr } = await make('lab');
  const out = stdout + stderr;
  console.log(`  (make lab in Docker mode: ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  assert.match(stdout, /^up: docker mode \(LAB_MODE=docker; Docker /m);
  for (const s of ['moto', 'sts-proxy', 'vault']) assert.match(stdout, new RegExp(`^${s}\\s+ready in \\d+\\.\\ds \\(container ${names.container(s)}, 127\\.0\\.0\\.1:\\d+\\)`, 'm'));
  assert.match(stdout, /^issuer\s+ready in .*\(pid \d+/m, 'the issuer stays a host process');
  // The steps ran against the containers: AWS steps created, Vault steps created, verify held.
  for (const id of ['01', '02', '03', '05', '06', '07', '08', '09']) assert.match(stdout, new RegExp(`^${id}\\s.*\\bchanged\\b`, 'm'), `step ${id} changed`);
  assert.match(stdout, /^12\s.*\bverified\b/m);
  assert.match(stdout, /all 5 links hold/);
  assert.match(stdout, /logins go to http:\/\/sts-proxy:8182/, 'Vault reaches STS through the front by its name on the lab network');
  const token = readFileSync(join(env.LAB_DIR!, 'secrets', 'root-token'), 'utf8').trim();
  assert.not.ok(out.includes(token), 'the root token is never printed by make lab');
  issuerPid = (JSON.parse(readFileSync(join(env.LAB_DIR!, 'pids', 'issuer.pid'), 'utf8')) as { pid: number }).pid;
  assert.ok(pidAlive(issuerPid));
});

dtest('the containers are the lab\'s: labelled, on its network, published on 127.0.0.1 only', async () => {
  const objs = labObjects();
  assert.equal(objs.sort(), [names.network, names.container('moto'), names.container('sts-proxy'), names.container('vault')].sort());
  for (const s of ['moto', 'sts-proxy', 'vault']) {
    const info = JSON.parse(execFileSync('docker', ['inspect', names.container(s)], { encoding: 'utf8' }))[0] as {
      Config: { Labels: Record<string, string>; Image: string };
      NetworkSettings: { Networks: Record<string, unknown>; Ports: Record<string, { HostIp: string; HostPort: string }[] | null> };
    };
    assert.is(info.Config.Labels[LAB_LABEL], names.id);
    assert.equal(Object.keys(info.NetworkSettings.Networks), [names.network]);
    const bound = Object.values(info.NetworkSettings.Ports).flatMap((b) => b ?? []);
    assert.ok(bound.length > 0, `${s} publishes a port`);
    for (const b of bound) assert.is(b.HostIp, '127.0.0.1', `${s} publishes on 127.0.0.1 only`);
    assert.match(info.Config.Image, /^vault-irsa-runbook-lab\//, 'the locally built image (LAB_IMAGES=local)');
  }
});

dtest('status and env in Docker mode', async () => {
  const st = await lab('status');
  assert.is((st.stdout.match(/ answers /g) ?? []).length, 4, st.stdout);
  const e = await lab('env');
  assert.match(e.stdout, /^export VAULT_AWS_ENDPOINT_URL='http:\/\/sts-proxy:8182'$/m);
  assert.match(e.stdout, new RegExp(`^export VAULT_ADDR='http://127\\.0\\.0\\.1:${ports.LAB_VAULT_PORT}'$`, 'm'));
  assert.match(e.stdout, new RegExp(`^export AWS_ENDPOINT_URL='http://127\\.0\\.0\\.1:${ports.LAB_MOTO_PORT}'$`, 'm'));
});

dtest('a second make lab reuses the running containers: every step unchanged, verify passes', async () => {
  const before = execFileSync('docker', ['inspect', '--format', '{{.Id}}', names.container('vault')], { encoding: 'utf8' }).trim();
  const { stdout } = await make('lab');
  assert.match(stdout, /already running in Docker/);
  assert.match(stdout, /^12\s.*\bverified\b/m);
  assert.not.match(stdout, /^0[1-9]\s.*\bchanged\b/m, 'nothing to change');
  assert.is(execFileSync('docker', ['inspect', '--format', '{{.Id}}', names.container('vault')], { encoding: 'utf8' }).trim(), before, 'same Vault container');
});

dtest('make lab-down removes exactly the lab\'s containers and network; the images stay cached', async () => {
  const images = execFileSync('docker', ['images', '-q', '--filter', 'reference=vault-irsa-runbook-lab/*'], { encoding: 'utf8' }).trim();
  const { stdout } = await make('lab-down');
  for (const o of [names.container('vault'), names.container('sts-proxy'), names.container('moto'), names.network]) assert.match(stdout, new RegExp(`^down: removed ${o}$`, 'm'));
  assert.equal(labObjects(), [], 'no container or network of the lab is left');
  assert.not.ok(pidAlive(issuerPid), 'the issuer process is gone');
  assert.is(execFileSync('docker', ['images', '-q', '--filter', 'reference=vault-irsa-runbook-lab/*'], { encoding: 'utf8' }).trim(), images, 'images stay (README: cached)');
  assert.match((await make('lab-down')).stdout, /nothing was running/);
});

dtest('LAB_MODE unset on a machine without go or vault, Docker running: up picks Docker mode and says why in one line', async () => {
  const tags = await localImageTags(root, labCacheDir(env), () => undefined);
  // The user's PATH less go and vault: the process lab could not build its Vault here.
  const bin = pathWithout(join(base, 'bin-no-go'), ['go', 'gofmt', 'vault']);
  const noGo = { PATH: bin, LAB_MODE: '', LAB_IMAGES: '', LAB_MOTO_IMAGE: tags.moto, LAB_VAULT_IMAGE: tags.vault, LAB_NODE_IMAGE: tags.node };
  const { stdout } = await lab('up', noGo);
  const modeLines = stdout.split('\n').filter((l) => /^up: (docker|process) mode/.test(l));
  assert.equal(modeLines.length, 1, stdout);
  assert.match(modeLines[0]!, /^up: docker mode \(LAB_MODE unset: go \(or vault on PATH\) missing for the process lab, and Docker runs; Docker /);
  assert.is(labObjects().length, 4, 'the three containers and the network');
  await lab('down', noGo);
  assert.equal(labObjects(), []);
});

dtest('a container that cannot start: one sentence naming it, exit 1, nothing of the lab left', async () => {
  // An image that exists but has no vault program (the lab's Node image): Vault's container cannot start.
  const node = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', 'vault-irsa-runbook-lab/node'], { encoding: 'utf8' }).trim().split('\n')[0]!;
  const err = await fails(lab('up', { LAB_VAULT_IMAGE: node }));
  assert.ok(err, 'up fails');
  assert.is(err!.code, 1);
  assert.match(err!.stderr, /^up: starting the vault container \(vault-irsa-runbook-lab\/node:[^)]+\) failed: /);
  assert.is(err!.stderr.trim().split('\n').length, 1, err!.stderr);
  assert.equal(labObjects(), [], 'what was started is removed');
  assert.not.ok(existsSync(join(env.LAB_DIR!, 'pids', 'issuer.pid')), 'no issuer left');
});

test.after(async () => {
  if (engine.ok) await make('lab-down').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
