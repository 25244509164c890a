// Docker mode's AWS emulator when LOCALSTACK_AUTH_TOKEN is set: LocalStack Pro (pinned in
// lab/lib/settings.ts) in moto's place. The container plan is a pure function (the exact
// `docker run` argv); then `up` runs against a recording docker stand-in first on PATH, so
// the argv docker really gets is checked, and that the token reaches docker only through its
// environment: never in an argument, never in output (a value-less -e, as Vault's root token).
// The real LocalStack image cannot be pulled on this kind of machine (no registry): whether
// LocalStack answers as the lab expects (CreateCluster's OIDC issuer, STS) is not proven here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awsEmulatorPlan, containerRunArgs, upDocker, LOCALSTACK_PORT } from '../lab/lib/docker-lab.js';
import { dockerNames } from '../lab/lib/docker.js';
import { LabError, LOCALSTACK_VERSION, MOTO_VERSION, UPSTREAM_IMAGES, readSettings } from '../lab/lib/settings.js';
import { freePorts } from './helpers/ports.js';

const TOKEN = 'ls-' + 'Q'.repeat(8) + '-test-token-0000';
const base = mkdtempSync(join(tmpdir(), 'lab-localstack-'));

test('the image is pinned with the others: localstack/localstack-pro:<version>', () => {
  assert.is(UPSTREAM_IMAGES.localstack, `localstack/localstack-pro:${LOCALSTACK_VERSION}`);
  assert.match(LOCALSTACK_VERSION, /^\d+\.\d+\.\d+$/);
});

test('LOCALSTACK_AUTH_TOKEN set: LocalStack is the emulator; the settings do not keep the token', () => {
  const st = readSettings({ LOCALSTACK_AUTH_TOKEN: TOKEN, LAB_DIR: join(base, 'x') });
  assert.is(st.awsEmulator, 'localstack');
  assert.not.ok(JSON.stringify(st).includes(TOKEN));
  assert.is(readSettings({ LAB_DIR: join(base, 'x') }).awsEmulator, 'moto');
  assert.is(readSettings({ LOCALSTACK_AUTH_TOKEN: '', LAB_DIR: join(base, 'x') }).awsEmulator, 'moto', 'empty: moto');
  assert.is(readSettings({ LAB_LOCALSTACK_IMAGE: 'registry.example/ls:1', LAB_DIR: join(base, 'x') }).imageOverrides.localstack, 'registry.example/ls:1');
});

test('the container plan: the exact docker run argv (image, network, value-less -e, port 4566 on 127.0.0.1)', () => {
  const dir = join(base, 'plan');
  const n = dockerNames(dir);
  const ls = awsEmulatorPlan('localstack');
  assert.is(ls.inner, LOCALSTACK_PORT);
  assert.is(ls.readyPath, '/_localstack/health');
  assert.equal(containerRunArgs(dir, 'moto', UPSTREAM_IMAGES.localstack, { publish: 4566, inner: ls.inner, env: ls.env }), [
    'run', '-d',
    '--name', `${n.container('moto')}`,
    '--label', n.label,
    '--network', n.network,
    '--network-alias', 'moto',
    '-p', '127.0.0.1:4566:4566',
    '-e', 'LOCALSTACK_AUTH_TOKEN',
    `localstack/localstack-pro:${LOCALSTACK_VERSION}`,
  ]);
  // moto's plan is unchanged: its port 5000 behind LAB_MOTO_PORT.
  const moto = awsEmulatorPlan('moto');
  assert.is(moto.name, `moto ${MOTO_VERSION}`);
  assert.equal(containerRunArgs(dir, 'moto', UPSTREAM_IMAGES.moto, { publish: 26566, inner: moto.inner, env: moto.env }).slice(10), ['-p', '127.0.0.1:26566:5000', '-e', 'MOTO_PORT=5000', '-e', 'MOTO_ALLOW_NONEXISTENT_REGION=false', UPSTREAM_IMAGES.moto]);
});

test('up with a recording docker: LocalStack\'s container gets the token from docker\'s environment only; a LocalStack that does not answer is one error, the lab removed, the token in no output', async () => {
  const bin = join(base, 'bin');
  mkdirSync(bin, { recursive: true });
  const rec = join(base, 'docker.log');
  // Records argv, and whether the token was in docker's own environment. `ps` lists nothing (the
  // container "stopped"), `logs` prints the token as a careless server might.
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh
printf '%s\\n' "docker $*" >> "${rec}"
[ "$1" = run ] && printf 'env LOCALSTACK_AUTH_TOKEN=%s\\n' "\${LOCALSTACK_AUTH_TOKEN:+set}" >> "${rec}"
case "$1" in
  info) echo 27.3.1;;
  run) echo 0123456789abcdef;;
  logs) echo "license activation with token $LOCALSTACK_AUTH_TOKEN failed: no network"; echo 'Ready.' ;;
esac
exit 0
`,
  );
  chmodSync(join(bin, 'docker'), 0o755);
  const [moto, vault, issuer, sts] = await freePorts(4);
  const dir = join(base, 'lab');
  // None of the caller's lab settings: CI exports LAB_K8S=1, which would make this a kind lab.
  const callers = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LAB_')));
  const env = { ...callers, PATH: `${bin}:${process.env.PATH}`, LAB_MODE: 'docker', LAB_DIR: dir, LOCALSTACK_AUTH_TOKEN: TOKEN, LAB_MOTO_PORT: String(moto), LAB_VAULT_PORT: String(vault), LAB_ISSUER_PORT: String(issuer), LAB_STS_PROXY_PORT: String(sts) };
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('LAB_')) delete process.env[k];
  Object.assign(process.env, env);
  const lines: string[] = [];
  let err: unknown;
  try {
    await upDocker(readSettings(env), (l) => lines.push(l), 'LAB_MODE=docker');
  } catch (e) {
    err = e;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved) || k.startsWith('LAB_')) delete process.env[k];
    Object.assign(process.env, saved);
  }
  const calls = readFileSync(rec, 'utf8').trim().split('\n');
  const n = dockerNames(dir);
  const run = calls.find((c) => c.startsWith('docker run '));
  assert.is(run, `docker ${containerRunArgs(dir, 'moto', UPSTREAM_IMAGES.localstack, { publish: moto!, inner: 4566, env: { LOCALSTACK_AUTH_TOKEN: undefined } }).join(' ')}`);
  assert.is(calls[calls.indexOf(run!) + 1], 'env LOCALSTACK_AUTH_TOKEN=set', 'docker had the token in its environment');
  assert.ok(calls.includes(`docker image inspect --format {{.Id}} ${UPSTREAM_IMAGES.localstack}`), 'the pinned LocalStack image is the one checked (and pulled if missing)');
  assert.ok(calls.includes(`docker network create --label ${n.label} ${n.network}`));
  assert.ok(lines.some((l) => /^up: docker mode .*LocalStack \(LOCALSTACK_AUTH_TOKEN is set\)/.test(l)), lines.join('\n'));

  assert.instance(err, LabError);
  const msg = (err as Error).message;
  assert.match(msg, new RegExp(`^LocalStack ${LOCALSTACK_VERSION.replaceAll('.', '\\.')} \\(container ${n.container('moto')}, gone\\) did not answer at http://127\\.0\\.0\\.1:${moto}/_localstack/health; its last log lines:\\nlicense activation with token <redacted> failed`));
  for (const text of [...calls, ...lines, msg]) assert.not.ok(text.includes(TOKEN), `token leaked: ${text}`);
  // The failed up removed what it made (by label), and kept no token on disk.
  assert.ok(calls.some((c) => c.startsWith(`docker ps -a --filter label=${n.label}`)), 'down ran');
  assert.not.ok(existsSync(join(dir, 'lab.json')) && readFileSync(join(dir, 'lab.json'), 'utf8').includes(TOKEN));
  const lab = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8'));
  assert.is(lab.awsEmulator, 'localstack');
});

test.after(() => rmSync(base, { recursive: true, force: true }));

test.run();
