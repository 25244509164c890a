// Docker mode's kind and Helm part (lab/lib/kind.ts) against recording stand-ins for
// kind, kubectl, helm and docker, first on PATH: each appends its argv to a file and
// answers as the real tool would (kind keeps a list of its clusters, kubectl
// port-forward stays running like the real one). The exact commands and their order are
// checked, and what happens when `kind create cluster` fails and when the chart install
// times out: one sentence, the cluster deleted, nothing left running.
// (kind's node image cannot be had on this kind of machine; a real run needs internet.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { kindDown, kindUp, missingKindTools, renderKindConfig, HELM_TIMEOUT, type KindContext } from '../lab/lib/kind.js';
import { dockerNames } from '../lab/lib/docker.js';
import { ownedPid } from '../lab/lib/procs.js';
import { LabError, UPSTREAM_IMAGES } from '../lab/lib/settings.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'lab-kind-'));
const bin = join(base, 'bin');
const rec = join(base, 'calls.log');
const kindState = join(base, 'kind-clusters');
mkdirSync(bin);

const standIn = (name: string, body: string) => {
  writeFileSync(join(bin, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> "${rec}"\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
};
// kind: create adds the cluster to its list (also when it fails half-way, as a real kind can
// leave a node container), get lists, delete removes it.
standIn(
  'kind',
  `name=""; prev=""; for a in "$@"; do [ "$prev" = "--name" ] && name="$a"; prev="$a"; done
case "$1 $2" in
  "create cluster") echo "$name" >> "${kindState}"
    if [ -n "$KIND_CREATE_FAILS" ]; then echo 'ERROR: failed to create cluster: failed to pull image "${UPSTREAM_IMAGES.kindNode}": command "docker pull ${UPSTREAM_IMAGES.kindNode}" failed with error: exit status 1' >&2; exit 1; fi
    echo "Creating cluster \\"$name\\" ..."; exit 0;;
  "get clusters") [ -f "${kindState}" ] && cat "${kindState}"; exit 0;;
  "delete cluster") [ -f "${kindState}" ] && grep -vx "$name" "${kindState}" > "${kindState}.new"; mv "${kindState}.new" "${kindState}" 2>/dev/null; echo "Deleting cluster \\"$name\\" ..."; exit 0;;
esac
exit 0`,
);
// kubectl: port-forward keeps running (the shell stays, so ps shows kubectl), the rest succeeds.
standIn('kubectl', `case "$*" in *port-forward*) sleep 600;; esac\nexit 0`);
// helm: --wait that times out prints what Helm prints and exits 1.
standIn('helm', `if [ -n "$HELM_TIMES_OUT" ]; then echo 'Error: UPGRADE FAILED: context deadline exceeded' >&2; exit 1; fi\necho 'Release "vault" has been upgraded. Happy Helming!'\nexit 0`);
standIn('docker', 'exit 0');

const PATH = `${bin}:${process.env.PATH}`;
const calls = () => (existsSync(rec) ? readFileSync(rec, 'utf8').trim().split('\n').filter(Boolean) : []);
const clustersLeft = () => (existsSync(kindState) ? readFileSync(kindState, 'utf8').trim().split('\n').filter(Boolean) : []);

let n = 0;
const made: { dir: string; env: NodeJS.ProcessEnv }[] = [];
function context(extra: NodeJS.ProcessEnv = {}): KindContext {
  const dir = join(base, `lab-${++n}`);
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'sts-ca.pem'), '-----BEGIN CERTIFICATE-----\nlab\n-----END CERTIFICATE-----\n');
  rmSync(rec, { force: true });
  made.push({ dir, env: { ...process.env, PATH } });
  return {
    root,
    dir,
    issuer: 'https://oidc.eks.us-east-1.amazonaws.com/id/KINDTEST1',
    region: 'us-east-1',
    vaultServerRoleArn: 'arn:aws:iam::123456789012:role/vault-server-kind',
    vaultPort: 30299,
    rootToken: 'tok-' + 'x'.repeat(28),
    stsFront: 'http://sts-proxy:8182',
    env: { ...process.env, PATH, ...extra },
  };
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('lab/kind.yaml renders with the lab issuer and the pinned node image', () => {
  const text = renderKindConfig(root, 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC');
  assert.not.match(text, /ISSUER_URL|KIND_NODE_IMAGE/);
  const y = YAML.parse(text) as { nodes: { image: string; kubeadmConfigPatches: string[] }[] };
  assert.is(y.nodes[0]!.image, UPSTREAM_IMAGES.kindNode);
  const args = (YAML.parse(y.nodes[0]!.kubeadmConfigPatches[0]!) as { apiServer: { extraArgs: Record<string, string> } }).apiServer.extraArgs;
  assert.is(args['service-account-issuer'], 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC');
  assert.ok(args['api-audiences']!.split(',').includes('sts.amazonaws.com'));
});

test('the exact command sequence: kind create, network connect, node Ready, namespace, CA, helm install in dev mode, port-forward', async () => {
  const ctx = context();
  const lines: string[] = [];
  await kindUp(ctx, (l) => lines.push(l));
  const d = dockerNames(ctx.dir);
  const kc = join(ctx.dir, 'kubeconfig');
  const values = join(ctx.dir, 'secrets', 'vault-values.json');
  // The port-forward is a detached process: its stand-in records itself a moment later.
  for (let i = 0; i < 50 && !calls().some((c) => c.includes('port-forward')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(calls(), [
    `kind create cluster --name ${d.kindCluster} --config ${join(ctx.dir, 'kind.yaml')} --kubeconfig ${kc} --wait 180s`,
    `docker network connect ${d.network} ${d.kindCluster}-control-plane`,
    `kubectl --kubeconfig ${kc} wait --for=condition=Ready node --all --timeout=180s`,
    `kubectl --kubeconfig ${kc} create namespace vault`,
    `kubectl --kubeconfig ${kc} create configmap lab-sts-ca -n vault --from-file=sts-ca.pem=${join(ctx.dir, 'sts-ca.pem')}`,
    `helm upgrade --install vault vault --repo https://helm.releases.hashicorp.com --kubeconfig ${kc} -n vault --values ${values} --wait --timeout ${HELM_TIMEOUT}`,
    `kubectl --kubeconfig ${kc} port-forward -n vault svc/vault 30299:8200 --address 127.0.0.1`,
  ]);
  // The config kind got, and Vault's values: dev mode, the annotated SA, the webhook's env.
  assert.match(readFileSync(join(ctx.dir, 'kind.yaml'), 'utf8'), /service-account-issuer: https:\/\/oidc\.eks\.us-east-1\.amazonaws\.com\/id\/KINDTEST1/);
  const v = JSON.parse(readFileSync(values, 'utf8'));
  assert.is(statSync(values).mode & 0o777, 0o600, 'the values hold the root token: owner only');
  assert.is(v.server.dev.enabled, true);
  assert.is(v.server.serviceAccount.annotations['eks.amazonaws.com/role-arn'], ctx.vaultServerRoleArn);
  assert.is(v.server.extraEnvironmentVars.AWS_ROLE_ARN, ctx.vaultServerRoleArn);
  assert.is(v.server.extraEnvironmentVars.HTTPS_PROXY, 'http://sts-proxy:8182');
  assert.is(v.server.volumes[0].projected.sources[0].serviceAccountToken.audience, 'sts.amazonaws.com');
  assert.not.ok(calls().some((c) => c.includes(ctx.rootToken)), 'the root token is in no command line');
  assert.ok(lines.some((l) => /^up: kind create cluster vir-lab-/.test(l)), 'a progress line per step');
  const pf = ownedPid(ctx.dir, 'vault-port-forward');
  assert.ok(pf && alive(pf), 'the port-forward runs');

  // down: the port-forward stops and the cluster is deleted; a second down does nothing.
  rmSync(rec, { force: true });
  const removed = await kindDown(ctx.dir, () => undefined, ctx.env);
  assert.equal(removed, ['vault-port-forward', `kind cluster ${d.kindCluster}`]);
  assert.equal(calls(), ['kind get clusters', `kind delete cluster --name ${d.kindCluster} --kubeconfig ${kc}`]);
  assert.not.ok(alive(pf!), 'port-forward gone');
  assert.equal(clustersLeft(), []);
  assert.equal(await kindDown(ctx.dir, () => undefined, ctx.env), []);
});

test('kind create cluster fails: one sentence with kind\'s reason, the half-made cluster deleted, nothing else run', async () => {
  const ctx = context({ KIND_CREATE_FAILS: '1' });
  const err = await kindUp(ctx, () => undefined).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  const msg = (err as Error).message;
  assert.not.match(msg, /\n/);
  assert.match(msg, /^kind create cluster vir-lab-\w+ failed \(ERROR: failed to create cluster: failed to pull image "kindest\/node:v[\d.]+".*\): check that Docker .*; the lab removed its kind cluster$/);
  const c = calls();
  assert.match(c[0]!, /^kind create cluster /);
  assert.equal(c.slice(1), ['kind get clusters', `kind delete cluster --name ${dockerNames(ctx.dir).kindCluster} --kubeconfig ${join(ctx.dir, 'kubeconfig')}`], 'no helm, no kubectl after the failure');
  assert.equal(clustersLeft(), []);
  assert.is(ownedPid(ctx.dir, 'vault-port-forward'), undefined);
});

test('the chart install times out: one sentence, the cluster deleted, no port-forward left', async () => {
  const ctx = context({ HELM_TIMES_OUT: '1' });
  const err = await kindUp(ctx, () => undefined).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  const msg = (err as Error).message;
  assert.not.match(msg, /\n/);
  assert.match(msg, new RegExp(`^helm install of Vault's chart in dev mode \\(timeout ${HELM_TIMEOUT}\\) failed \\(Error: UPGRADE FAILED: context deadline exceeded\\): Vault's pod was not ready in ${HELM_TIMEOUT}: .*; the lab removed its kind cluster$`));
  const c = calls();
  assert.match(c.at(-3)!, /^helm upgrade --install vault /);
  assert.equal(c.slice(-2), ['kind get clusters', `kind delete cluster --name ${dockerNames(ctx.dir).kindCluster} --kubeconfig ${join(ctx.dir, 'kubeconfig')}`]);
  assert.not.ok(c.some((l) => l.includes('port-forward')), 'no port-forward was started');
  assert.equal(clustersLeft(), []);
  assert.not.ok(existsSync(join(ctx.dir, 'pids')) && readdirSync(join(ctx.dir, 'pids')).length > 0, 'no process recorded');
});

test('a missing kind, kubectl or helm is named with how to install it', () => {
  assert.is(missingKindTools(() => true), undefined);
  const one = missingKindTools((t) => t !== 'kind')!;
  assert.match(one, /^LAB_MODE=docker LAB_K8S=1 needs kind \(https:\/\/kind\.sigs\.k8s\.io\/[^)]*\) on PATH: install it, or unset LAB_K8S/);
  const all = missingKindTools(() => false)!;
  for (const t of ['kind (https://kind.sigs.k8s.io', 'kubectl (https://kubernetes.io/docs/tasks/tools/', 'helm (https://helm.sh/docs/intro/install/']) assert.ok(all.includes(t), t);
  assert.match(all, /install them/);
});

test('lab/bin/up in Docker mode with LAB_K8S=1 and no kind on PATH: one sentence, exit 1, nothing started', async () => {
  // A PATH with node and the shell tools, but no kind, kubectl or helm.
  const noKind = join(base, 'bin-no-kind');
  mkdirSync(noKind);
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (!d || !existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (['kind', 'kubectl', 'helm'].includes(f) || existsSync(join(noKind, f))) continue;
      try {
        if (statSync(join(d, f)).isFile()) symlinkSync(join(d, f), join(noKind, f));
      } catch {
        /* dangling */
      }
    }
  }
  const labDir = join(base, 'lab-up');
  const err = await promisify(execFile)(join(root, 'lab', 'bin', 'up'), [], {
    env: { ...process.env, PATH: noKind, LAB_MODE: 'docker', LAB_K8S: '1', LAB_DIR: labDir, LAB_MOTO_PORT: '26567', LAB_VAULT_PORT: '30201', LAB_ISSUER_PORT: '30183', LAB_STS_PROXY_PORT: '30184' },
  }).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  assert.is(err?.code, 1);
  assert.is(err!.stderr.trim().split('\n').length, 1, err!.stderr);
  assert.match(err!.stderr, /^up: LAB_MODE=docker LAB_K8S=1 needs kind \(.*\), kubectl \(.*\), helm \(.*\) on PATH: install them/);
  assert.not.ok(existsSync(join(labDir, 'lab.json')), 'nothing made');
});

test.after(async () => {
  // Whatever a failed test left: the stand-in port-forwards and clusters.
  for (const c of made) await kindDown(c.dir, () => undefined, c.env).catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
