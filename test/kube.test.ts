// Whether a cluster can answer, decided from files where it can be: kubectl found on PATH
// without running it, the kubeconfig's current context read with the yaml package, and
// `kubectl version` asked only where a server is named (a fake kubectl that logs its calls).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { currentServer, hasKubeCluster, kubeconfigPaths, kubeProbe, onPath } from '../lib/kube.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kube-'));

/** A kubectl that appends its arguments to a log and answers `version` with `code`. */
function fakeKubectl(code: number): { dir: string; calls: () => string[] } {
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
  const k = fakeKubectl(0);
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
  const up = fakeKubectl(0);
  const down = fakeKubectl(1);
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
  const k = fakeKubectl(0);
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
