// Docker mode's kind part (lab/lib/kind.ts) and step 04 on that cluster, against recording
// stand-ins for kind, kubectl, helm and docker, first on PATH: each appends its argv to a
// file and answers as the real tool would (kind keeps a list of its clusters and writes a
// kubeconfig, kubectl port-forward stays running like the real one, docker logs shows the
// webhook listening). The exact commands and their order are checked: the lab makes the
// cluster and its IRSA webhook but installs no Vault; step 04 installs HashiCorp's chart.
// And what happens when `kind create cluster` fails (the lab's) and when the chart install
// times out (step 04's): one sentence each, nothing left running.
// (kind's node image cannot be had on this kind of machine; a real run needs internet.)
// run.ts lane: own (about 4 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { kindDown, kindUp, missingKindTools, renderKindConfig, webhookContainerArgs, LAB_CA_ON_NODE, type KindContext } from '../lab/lib/kind.js';
import { dockerNames } from '../lab/lib/docker.js';
import { ownedPid } from '../lab/lib/procs.js';
import { LabError, UPSTREAM_IMAGES } from '../lab/lib/settings.js';
import { step as s04 } from '../runbook/04-install-vault.js';
import { parseConfig } from '../lib/config.js';
import { run } from './helpers/lab.js';
import { pathWithout } from './helpers/host.js';

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
const caData = Buffer.from('-----BEGIN CERTIFICATE-----\nkind\n-----END CERTIFICATE-----\n').toString('base64');
standIn(
  'kind',
  `name=""; kc=""; prev=""; for a in "$@"; do [ "$prev" = "--name" ] && name="$a"; [ "$prev" = "--kubeconfig" ] && kc="$a"; prev="$a"; done
case "$1 $2" in
  "create cluster") echo "$name" >> "${kindState}"
    [ -n "$kc" ] && printf 'apiVersion: v1\\nkind: Config\\ncurrent-context: kind-%s\\nclusters:\\n- name: kind-%s\\n  cluster:\\n    server: https://127.0.0.1:1\\n    certificate-authority-data: ${caData}\\ncontexts:\\n- name: kind-%s\\n  context:\\n    cluster: kind-%s\\n    user: kind-%s\\nusers:\\n- name: kind-%s\\n  user: {}\\n' "$name" "$name" "$name" "$name" "$name" "$name" > "$kc"
    if [ -n "$KIND_CREATE_FAILS" ]; then echo 'ERROR: failed to create cluster: failed to pull image "${UPSTREAM_IMAGES.kindNode}": command "docker pull ${UPSTREAM_IMAGES.kindNode}" failed with error: exit status 1' >&2; exit 1; fi
    echo "Creating cluster \\"$name\\" ..."; exit 0;;
  "get clusters") [ -f "${kindState}" ] && cat "${kindState}"; exit 0;;
  "delete cluster") [ -f "${kindState}" ] && grep -vx "$name" "${kindState}" > "${kindState}.new"; mv "${kindState}.new" "${kindState}" 2>/dev/null; echo "Deleting cluster \\"$name\\" ..."; exit 0;;
esac
exit 0`,
);
// kubectl: port-forward keeps running (the shell stays, so ps shows kubectl), create token
// prints a token, version answers, get pod finds nothing (no Vault was installed), the rest succeeds.
standIn(
  'kubectl',
  `case "$*" in
  *port-forward*) sleep 600;;
  *"create token"*) echo 'eyJhbGciOiJSUzI1NiJ9.webhook.sig'; exit 0;;
  *version*) echo '{"clientVersion":{"major":"1","minor":"31","gitVersion":"v1.31.2"},"serverVersion":{"major":"1","minor":"31","gitVersion":"v1.31.2"}}'; exit 0;;
  *"get pod"*) echo 'Error from server (NotFound): pods "vault-0" not found' >&2; exit 1;;
esac
exit 0`,
);
// helm: no release yet; an install with --wait that times out prints what Helm prints and exits 1.
standIn(
  'helm',
  `case "$1" in
  version) echo 'v3.16.2+g13654a5'; exit 0;;
  list) echo '[]'; exit 0;;
  upgrade) if [ -n "$HELM_TIMES_OUT" ]; then echo 'Error: INSTALLATION FAILED: context deadline exceeded' >&2; exit 1; fi; echo 'Release "vault" has been installed. Happy Helming!'; exit 0;;
esac
exit 0`,
);
// docker: network connect and run succeed; logs show the webhook listening (or its startup error).
standIn(
  'docker',
  `case "$1" in
  run) echo 0123456789abcdef; exit 0;;
  logs) if [ -n "$WEBHOOK_FAILS" ]; then echo 'irsa-webhook: --sts-front and --lab-ca-file go together' >&2; else echo '2026-01-01T00:00:00.000Z irsa-webhook listening on https://0.0.0.0:8444/mutate (region us-east-1; STS through http://sts-proxy:8182)'; fi; exit 0;;
esac
exit 0`,
);

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
    stsFront: 'http://sts-proxy:8182',
    nodeImage: UPSTREAM_IMAGES.node,
    nodeBin: 'node',
    webhookBundle: join(dir, 'docker', 'irsa-webhook.mjs'),
    env: { ...process.env, PATH, ...extra },
    webhookWaitMs: 3000,
  };
}

test('lab/kind.yaml renders with the lab issuer, the pinned node image and the lab CA on the node', () => {
  const text = renderKindConfig(root, 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC', '/tmp/lab/sts-ca.pem');
  assert.not.match(text, /ISSUER_URL|KIND_NODE_IMAGE|LAB_STS_CA|LAB_CA_ON_NODE/);
  const y = YAML.parse(text) as { nodes: { image: string; extraMounts: { hostPath: string; containerPath: string; readOnly: boolean }[]; kubeadmConfigPatches: string[] }[] };
  assert.is(y.nodes[0]!.image, UPSTREAM_IMAGES.kindNode);
  assert.equal(y.nodes[0]!.extraMounts, [{ hostPath: '/tmp/lab/sts-ca.pem', containerPath: LAB_CA_ON_NODE, readOnly: true }]);
  const args = (YAML.parse(y.nodes[0]!.kubeadmConfigPatches[0]!) as { apiServer: { extraArgs: Record<string, string> } }).apiServer.extraArgs;
  assert.is(args['service-account-issuer'], 'https://oidc.eks.us-east-1.amazonaws.com/id/ABC');
  assert.ok(args['api-audiences']!.split(',').includes('sts.amazonaws.com'));
});

test('the exact command sequence: kind create, network connect, node Ready, webhook RBAC and token, webhook container, its log, webhook registration; no helm, no Vault, no port-forward', async () => {
  const ctx = context();
  const lines: string[] = [];
  await kindUp(ctx, (l) => lines.push(l));
  const d = dockerNames(ctx.dir);
  const kc = join(ctx.dir, 'kubeconfig');
  assert.equal(calls(), [
    `kind create cluster --name ${d.kindCluster} --config ${join(ctx.dir, 'kind.yaml')} --kubeconfig ${kc} --wait 180s`,
    `docker network connect ${d.network} ${d.kindCluster}-control-plane`,
    `kubectl --kubeconfig ${kc} wait --for=condition=Ready node --all --timeout=180s`,
    `kubectl --kubeconfig ${kc} apply -f ${join(ctx.dir, 'docker', 'kind-webhook-rbac.json')}`,
    `kubectl --kubeconfig ${kc} create token lab-irsa-webhook -n kube-system --duration=8760h`,
    `docker ${webhookContainerArgs(ctx).join(' ')}`,
    `docker logs ${d.container('irsa-webhook')}`,
    `kubectl --kubeconfig ${kc} apply -f ${join(ctx.dir, 'docker', 'kind-webhook-config.json')}`,
  ]);
  // The webhook container: on the lab network by the name its certificate carries, no port published,
  // the kind API server by the node's name, the route to the STS front for the pods it gives IRSA.
  const args = webhookContainerArgs(ctx);
  assert.equal(args.slice(0, 10), ['run', '-d', '--name', d.container('irsa-webhook'), '--label', d.label, '--network', d.network, '--network-alias', 'irsa-webhook']);
  assert.not.ok(args.includes('-p'), 'no published port');
  assert.ok(args.join(' ').includes(`--api https://${d.kindCluster}-control-plane:6443`));
  assert.ok(args.join(' ').includes(`--sts-front http://sts-proxy:8182 --lab-ca-file ${LAB_CA_ON_NODE}`));
  // What the files hold: the token (0600, in no command line or log line), the API CA from kind's kubeconfig, the webhook registration.
  const tokenFile = join(ctx.dir, 'secrets', 'kind-webhook-token');
  assert.is(readFileSync(tokenFile, 'utf8').trim(), 'eyJhbGciOiJSUzI1NiJ9.webhook.sig');
  assert.is(statSync(tokenFile).mode & 0o777, 0o600);
  assert.not.ok([...calls(), ...lines].some((l) => l.includes('webhook.sig')), 'the token is in no command line or output');
  assert.match(readFileSync(join(ctx.dir, 'docker', 'kind-api-ca.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----\nkind\n/);
  const wh = JSON.parse(readFileSync(join(ctx.dir, 'docker', 'kind-webhook-config.json'), 'utf8'));
  assert.is(wh.webhooks[0].clientConfig.url, 'https://irsa-webhook:8444/mutate');
  assert.is(wh.webhooks[0].failurePolicy, 'Ignore');
  assert.equal(wh.webhooks[0].rules[0].operations, ['CREATE']);
  const pem = Buffer.from(wh.webhooks[0].clientConfig.caBundle, 'base64').toString('utf8');
  assert.is(pem, readFileSync(join(ctx.dir, 'docker', 'webhook-ca.pem'), 'utf8'));
  const san = execFileSync('openssl', ['x509', '-in', join(ctx.dir, 'docker', 'webhook.pem'), '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
  assert.match(san, /DNS:irsa-webhook/);
  const rbac = JSON.parse(readFileSync(join(ctx.dir, 'docker', 'kind-webhook-rbac.json'), 'utf8'));
  assert.equal(rbac.items[1].rules, [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] }], 'the webhook reads service accounts, nothing else');
  assert.ok(lines.some((l) => /^up: kind create cluster vir-lab-/.test(l)), 'a progress line per step');
  assert.match(lines.at(-1)!, /step 04 installs Vault from HashiCorp's chart \(KUBECONFIG=/);
  assert.is(ownedPid(ctx.dir, 'vault-port-forward'), undefined, 'the lab starts no port-forward');

  // down: the cluster is deleted; a second down does nothing (the containers are downDocker's, by label).
  rmSync(rec, { force: true });
  const removed = await kindDown(ctx.dir, () => undefined, ctx.env);
  assert.equal(removed, [`kind cluster ${d.kindCluster}`]);
  assert.equal(calls(), ['kind get clusters', `kind delete cluster --name ${d.kindCluster} --kubeconfig ${kc}`]);
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
  assert.equal(c.slice(1), ['kind get clusters', `kind delete cluster --name ${dockerNames(ctx.dir).kindCluster} --kubeconfig ${join(ctx.dir, 'kubeconfig')}`], 'no kubectl, no docker after the failure');
  assert.equal(clustersLeft(), []);
  assert.is(ownedPid(ctx.dir, 'vault-port-forward'), undefined);
});

test('the webhook container does not start: one sentence with its reason, the cluster deleted, no registration', async () => {
  const ctx = context({ WEBHOOK_FAILS: '1' });
  const err = await kindUp(ctx, () => undefined).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  const msg = (err as Error).message;
  assert.not.match(msg, /\n/);
  assert.match(msg, /^the lab's IRSA webhook did not start \(irsa-webhook: --sts-front and --lab-ca-file go together\): see `docker logs vir-lab-\w+-irsa-webhook`, then run `make lab-down` and try again; the lab removed its kind cluster$/);
  assert.not.ok(calls().some((l) => l.includes('kind-webhook-config.json')), 'no webhook registered');
  assert.equal(clustersLeft(), []);
});

// Step 04 on the kind cluster, as `make lab` runs it after `lab-up` (lab-env: KUBECONFIG of the
// cluster, no VAULT_HELM_CHART, a VAULT_ADDR nothing answers at).
async function step04(extra: Record<string, string> = {}) {
  const ctx = context(extra);
  await kindUp(ctx, () => undefined);
  rmSync(rec, { force: true });
  const { config, problems } = parseConfig({
    AWS_REGION: 'us-east-1',
    CLUSTER_NAME: 'gloo-ee-vault-integration',
    KUBECONFIG: join(ctx.dir, 'kubeconfig'),
    VAULT_ADDR: 'http://127.0.0.1:1',
    VAULT_TOKEN: 'root',
    VAULT_SERVER_IDENTITY: 'node',
    STATE_FILE: join(ctx.dir, 'state.json'),
  });
  assert.equal(problems, []);
  const oldPath = process.env.PATH;
  const oldEnv = { HELM_TIMES_OUT: process.env.HELM_TIMES_OUT };
  process.env.PATH = PATH;
  Object.assign(process.env, extra);
  try {
    return { ctx, r: await run([s04], config, { yes: true, verify: false }) };
  } finally {
    process.env.PATH = oldPath;
    if (oldEnv.HELM_TIMES_OUT === undefined) delete process.env.HELM_TIMES_OUT;
    else process.env.HELM_TIMES_OUT = oldEnv.HELM_TIMES_OUT;
  }
}

test('step 04 on the kind cluster installs HashiCorp\'s chart in dev mode (the lab did not)', async () => {
  const { r } = await step04();
  assert.is(r.error, undefined, r.output);
  const helm = calls().filter((c) => c.startsWith('helm '));
  assert.ok(helm.includes('helm repo add hashicorp https://helm.releases.hashicorp.com --force-update'), helm.join('\n'));
  const up = helm.find((c) => c.startsWith('helm upgrade --install vault hashicorp/vault'));
  assert.ok(up, helm.join('\n'));
  assert.match(up!, /--set server\.dev\.enabled=true/);
  assert.match(up!, /--wait --timeout 10m/);
});

test('step 04\'s chart install times out on the kind cluster: one sentence, no port-forward left', async () => {
  const { r } = await step04({ HELM_TIMES_OUT: '1' });
  assert.ok(r.error, r.output);
  const msg = (r.error as Error).message;
  assert.not.match(msg, /\n/);
  assert.match(msg, /^`helm upgrade --install vault` failed: INSTALLATION FAILED: context deadline exceeded: Vault's pod was not Ready within 10m \(see `kubectl get pods -n vault` and `kubectl describe pod vault-0 -n vault`: [^)]*\), then run step 04 again$/);
  assert.not.ok(calls().some((l) => l.includes('port-forward')), 'no port-forward was started');
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.not.ok(ps.split('\n').some((l) => l.includes(bin) && l.includes('port-forward')), 'no stand-in port-forward runs');
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
  const noKind = pathWithout(join(base, 'bin-no-kind'), ['kind', 'kubectl', 'helm']);
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
  // Whatever a failed test left: the stand-in clusters.
  for (const c of made) await kindDown(c.dir, () => undefined, c.env).catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
