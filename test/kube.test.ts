// lib/kube.ts: kubectl >= 1.24 for `kubectl create token` (one version parser, and
// the check where the runbook asks kubectl for a token: a fake kubectl on PATH, no cluster).
// Also: whether a cluster can answer, decided from files where it can be: kubectl found on PATH
// without running it, the kubeconfig's current context read with the yaml package, and
// `kubectl version` asked only where a server is named (a fake kubectl that logs its calls).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kubectlCreateTokenProblem, parseKubectlClientVersion } from '../lib/kube.js';
import { parseConfig } from '../lib/config.js';
import { webIdentityToken } from '../lib/web-identity.js';
import { RemoteError } from '../lib/errors.js';

const client = (major: string, minor: string, gitVersion: string) => JSON.stringify({ clientVersion: { major, minor, gitVersion, platform: 'linux/amd64' }, kustomizeVersion: 'v5.0.4' });

test('parses the client version, vendor "+" minors and a gitVersion-only answer', () => {
  assert.equal(parseKubectlClientVersion(client('1', '29', 'v1.29.1')), { major: 1, minor: 29, gitVersion: 'v1.29.1' });
  assert.equal(parseKubectlClientVersion(client('1', '24+', 'v1.24.17-eks-5e0fdde')), { major: 1, minor: 24, gitVersion: 'v1.24.17-eks-5e0fdde' });
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { gitVersion: 'v1.23.5' } })), { major: 1, minor: 23, gitVersion: 'v1.23.5' });
  // A kubectl built without version stamping: empty major/minor, the gitVersion says it.
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { major: '', minor: '', gitVersion: 'v1.30.2' } })), { major: 1, minor: 30, gitVersion: 'v1.30.2' });
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { major: '1', minor: '23+', gitVersion: 'v1.23.17-eks' } })), { major: 1, minor: 23, gitVersion: 'v1.23.17-eks' });
  assert.is(parseKubectlClientVersion('Client Version: v1.29.1'), undefined);
  assert.is(parseKubectlClientVersion('not json'), undefined);
  assert.is(parseKubectlClientVersion('{}'), undefined);
});

test('1.24 and newer pass; older is one sentence naming the version found and the fix', () => {
  for (const ok of [client('1', '24', 'v1.24.0'), client('1', '30', 'v1.30.2'), client('1', '24+', 'v1.24.17-eks-1'), client('2', '0', 'v2.0.0')]) assert.is(kubectlCreateTokenProblem(ok), undefined, ok);
  assert.is(kubectlCreateTokenProblem(JSON.stringify({ clientVersion: { major: '', minor: '', gitVersion: 'v1.30.2' } })), undefined, 'unstamped build, version from gitVersion');
  assert.is(kubectlCreateTokenProblem(client('1', '23', 'v1.23.17')), 'kubectl v1.23.17 is too old for `kubectl create token`, which needs kubectl 1.24 or newer: install a current kubectl (https://kubernetes.io/docs/tasks/tools) and run again');
  assert.match(kubectlCreateTokenProblem('not json') ?? '', /^kubectl printed no client version .* needs kubectl 1\.24 or newer: install a current kubectl/);
});

function fakeKubectl(gitVersion: string, minor: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kubectl-'));
  // Logs its calls; like a real one, only 1.24 and later know `create token`.
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh\necho "$1" >> '${dir}/calls'\nif [ "$1" = version ]; then echo '${client('1', minor, gitVersion)}'; exit 0; fi\nif [ "$1" = create ] && [ ${minor} -ge 24 ]; then echo aaaa.bbbb.cccc; exit 0; fi\necho 'error: unknown command "token" for "kubectl create"' >&2\nexit 1\n`, { mode: 0o755 });
  return dir;
}

test('webIdentityToken: a kubectl too old for `kubectl create token` is named as such; a recent one makes the token in one process', async () => {
  const { config } = parseConfig({ AWS_REGION: 'us-east-1' });
  const oldPath = process.env.PATH;
  try {
    process.env.PATH = `${fakeKubectl('v1.23.9', '23')}:${oldPath}`;
    try {
      await webIdentityToken(config, 'gloo-system', 'gloo');
      assert.unreachable('kubectl 1.23 must be refused');
    } catch (err) {
      assert.instance(err, RemoteError);
      assert.match((err as Error).message, /^kubectl v1\.23\.9 is too old for `kubectl create token`/);
    }
    const recent = fakeKubectl('v1.29.0', '29');
    process.env.PATH = `${recent}:${oldPath}`;
    const t = await webIdentityToken(config, 'gloo-system', 'gloo');
    assert.is(t.jwt, 'aaaa.bbbb.cccc');
    assert.is(t.source, 'kubectl create token');
    assert.equal(fs.readFileSync(path.join(recent, 'calls'), 'utf8').trim().split('\n'), ['create'], 'no version check before a token that works');
  } finally {
    process.env.PATH = oldPath;
  }
});

import { currentServer, hasKubeCluster, kubeconfigPaths, kubeProbe, onPath } from '../lib/kube.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kube-'));

/** A kubectl that appends its arguments to a log and answers `version` with `code`. */
function loggingKubectl(code: number): { dir: string; calls: () => string[] } {
  const dir = tmp();
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh\necho "$*" >> '${log}'\nexit ${code}\n`, { mode: 0o755 });
  return { dir, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []) };
}

const KUBECONFIG = (server?: string, current = 'lab') => `apiVersion: v1
kind: Config
current-context: ${current}
contexts:
  - name: lab
    context: { cluster: lab-cluster, user: admin }
clusters:
  - name: lab-cluster
    cluster:${server ? `\n      server: ${server}` : ' {}'}
users:
  - name: admin
    user: { token: not-a-secret }
`;

/** Runs fn with PATH = dirs only (plus /bin for the fake's sh) and the given environment. */
async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(env)) {
    saved[k] = process.env[k];
    if (env[k] === undefined) delete process.env[k];
    else process.env[k] = env[k];
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('onPath finds an executable file on PATH without running it; not a folder, not a plain file', () => {
  const a = tmp();
  const b = tmp();
  fs.mkdirSync(path.join(a, 'tool'));
  fs.writeFileSync(path.join(b, 'tool'), 'x', { mode: 0o644 });
  const c = tmp();
  fs.writeFileSync(path.join(c, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  assert.is(onPath('tool', [a, b, c].join(path.delimiter)), path.join(c, 'tool'));
  assert.is(onPath('tool', [a, b].join(path.delimiter)), undefined);
  assert.is(onPath('tool', ''), undefined);
});

test('kubeconfigPaths: the runbook setting, else KUBECONFIG (a list), else ~/.kube/config', () => {
  assert.equal(kubeconfigPaths('/a', '/b', '/home/u'), ['/a']);
  assert.equal(kubeconfigPaths(undefined, `/b${path.delimiter}/c${path.delimiter}${path.delimiter}/b`, '/home/u'), ['/b', '/c']);
  assert.equal(kubeconfigPaths('', '', '/home/u'), ['/home/u/.kube/config']);
});

test('currentServer follows current-context to its cluster; the first file to say wins, as kubectl merges', () => {
  const lab = { 'current-context': 'lab', contexts: [{ name: 'lab', context: { cluster: 'c' } }], clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }] };
  assert.is(currentServer([lab]), 'https://127.0.0.1:6443');
  assert.is(currentServer([{ 'current-context': 'other' }, lab]), undefined, 'the first current-context wins, and it names no context');
  assert.is(currentServer([{ clusters: [{ name: 'c', cluster: { server: 'https://first:443' } }] }, lab]), 'https://first:443', 'the first definition of a name wins');
  assert.is(currentServer([{ ...lab, 'current-context': '' }]), undefined);
  assert.is(currentServer([{ ...lab, clusters: [{ name: 'c', cluster: {} }] }]), undefined);
  assert.is(currentServer([null, 'text', []]), undefined);
});

test('no kubectl on PATH, or no kubeconfig naming a server: no cluster, and kubectl is never started', async () => {
  const k = loggingKubectl(0);
  const home = tmp();
  const file = path.join(tmp(), 'config');
  await withEnv({ PATH: `${k.dir}${path.delimiter}/bin`, HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined }, async () => {
    assert.is(await hasKubeCluster(), false, 'no ~/.kube/config');
    assert.is(await hasKubeCluster({ kubeconfig: path.join(home, 'absent') }), false, 'a KUBECONFIG that is not there');
    fs.writeFileSync(file, KUBECONFIG(undefined));
    assert.is(await hasKubeCluster({ kubeconfig: file }), false, 'a cluster without a server');
    fs.writeFileSync(file, KUBECONFIG('https://127.0.0.1:1', 'nowhere'));
    assert.is(await hasKubeCluster({ kubeconfig: file }), false, 'a current context that is not defined');
  });
  await withEnv({ PATH: '/nonexistent', KUBECONFIG: undefined }, async () => {
    fs.writeFileSync(file, KUBECONFIG('https://127.0.0.1:1'));
    assert.is(await hasKubeCluster({ kubeconfig: file }), false, 'no kubectl');
  });
  assert.equal(k.calls(), []);
});

test('a kubeconfig naming a server: kubectl version decides, once per process and kubeconfig', async () => {
  const up = loggingKubectl(0);
  const down = loggingKubectl(1);
  const file = path.join(tmp(), 'config');
  fs.writeFileSync(file, KUBECONFIG('https://127.0.0.1:6443'));
  await withEnv({ PATH: `${up.dir}${path.delimiter}/bin`, KUBECONFIG: undefined }, async () => {
    assert.is(await hasKubeCluster({ kubeconfig: file }), true);
    assert.is(await hasKubeCluster({ kubeconfig: file }), true);
    assert.is(up.calls().length, 1, 'asked once');
    assert.match(up.calls()[0]!, /^version --request-timeout=5s -o json$/);
  });
  await withEnv({ PATH: `${down.dir}${path.delimiter}/bin`, KUBECONFIG: file }, async () => {
    assert.is(await hasKubeCluster(), false, 'the cluster does not answer: another kubectl, asked again');
    assert.is(down.calls().length, 1);
  });
});

test('a kubeconfig that does not parse, or a pod with the in-cluster service, is for kubectl to judge', async () => {
  const k = loggingKubectl(0);
  const file = path.join(tmp(), 'config');
  fs.writeFileSync(file, 'current-context: [unclosed');
  await withEnv({ PATH: `${k.dir}${path.delimiter}/bin`, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined }, async () => {
    assert.is((await kubeProbe({ kubeconfig: file })).answer, 'ask');
  });
  await withEnv({ PATH: `${k.dir}${path.delimiter}/bin`, HOME: tmp(), KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, async () => {
    assert.is((await kubeProbe()).answer, 'ask');
  });
});

test.run();
