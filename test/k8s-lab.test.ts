// The lab's Kubernetes API (issue 13), proven with the real processes: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok and the lab's IRSA
// webhook, started from k8sServices() in a LAB_DIR of its own on free ports the OS gives, with a
// lab issuer key and an EKS-style cluster issuer made here. Proves:
//   - `kubectl create token gloo -n gloo-system --audience sts.amazonaws.com` gives a
//     token with iss = the lab cluster's issuer, sub system:serviceaccount:gloo-system:gloo,
//     that the lab issuer's JWKS (issuerJwks, what the issuer serves at /keys) verifies;
//   - the stand-in vault chart installed with --wait gets vault-0 Ready through kwok;
//   - a gloo install with the role annotation yields running gloo and discovery pods
//     whose spec carries AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the projected
//     token, injected by the webhook; a pod without the annotation gets nothing;
//   - everything is stopped at the end, no process left behind.
// Builds the pinned tools on first use (tens of minutes cold; cached afterwards).
// run.ts lane: own (about 13 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import YAML from 'yaml';
import { issuerJwks, readClusters } from '../lab/lib/lab.js';
import { installK8s, k8sServices, afterK8sStart, kubeRequest, K8S_VERSION, type K8sBins, type K8sContext } from '../lab/lib/k8s.js';
import { TOKEN_FILE, TOKEN_VOLUME } from '../lab/lib/irsa-webhook.js';
import { freePorts } from './helpers/ports.js';
import { startServices, stopServices, killAllSync, groupAlive, type Running } from './helpers/services.js';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cache = process.env.LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vault-irsa-runbook');
let PORTS: { etcd: number; etcdPeer: number; apiserver: number; webhook: number; kwok: number };
const CLUSTER = 'k8s-lab-test';
const REGION = 'us-east-1';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/dev-role-iam-k8s-lab-test';

let dir = '';
let bins: K8sBins;
let ctx: K8sContext;
let running: Running[] = [];
let env: NodeJS.ProcessEnv;
process.on('exit', () => killAllSync(running));

const log = (l: string) => console.log(`    ${l}`);

async function kubectl(...args: string[]): Promise<string> {
  try {
    return (await run(bins.kubectl, args, { env, timeout: 60_000 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

async function helm(...args: string[]): Promise<string> {
  try {
    return (await run(bins.helm, args, { env, timeout: 300_000 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string; containers: { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[]; volumes?: { name: string; projected?: { sources: { serviceAccountToken?: { audience?: string; path: string } }[] } }[] };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

async function pods(ns: string, selector: string): Promise<Pod[]> {
  return (JSON.parse(await kubectl('get', 'pods', '-n', ns, '-l', selector, '-o', 'json')) as { items: Pod[] }).items;
}

const ready = (p: Pod) => p.status.phase === 'Running' && Boolean(p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
const envOf = (p: Pod) => Object.fromEntries((p.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

test.before(async () => {
  const [etcd, etcdPeer, apiserver, webhook, kwok] = (await freePorts(5)) as [number, number, number, number, number];
  PORTS = { etcd, etcdPeer, apiserver, webhook, kwok };
  log(`ports: ${JSON.stringify(PORTS)}`);
  bins = await installK8s({ root, cache, log });

  // A lab dir of our own: the lab issuer's key and an EKS-style cluster issuer,
  // as lab-up writes them (labctl init-key, aws-setup).
  dir = mkdtempSync(join(tmpdir(), 'k8s-lab-'));
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
  mkdirSync(join(dir, 'clusters'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'secrets', 'issuer-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const issuer = `https://oidc.eks.${REGION}.amazonaws.com/id/${randomBytes(16).toString('hex').toUpperCase()}`;
  writeFileSync(join(dir, 'clusters', `${CLUSTER}.json`), JSON.stringify({ name: CLUSTER, issuer }));

  ctx = { root, dir, bins, ports: PORTS, issuer: readClusters(dir)[CLUSTER]!, region: REGION };
  env = {
    ...process.env,
    KUBECONFIG: join(dir, 'kubeconfig'),
    HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
    HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
    HELM_DATA_HOME: join(dir, 'helm', 'data'),
  };
  const t0 = Date.now();
  running = await startServices(k8sServices(ctx), { logDir: join(dir, 'logs'), log });
  await afterK8sStart(ctx);
  log(`Kubernetes API up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test.after(async () => {
  const pids = running.map((r) => r.pid);
  await stopServices(running);
  running = [];
  for (const pid of pids) assert.not.ok(groupAlive(pid), `process group ${pid} still alive after stop`);
  if (dir && !process.env.KEEP_K8S_LAB) rmSync(dir, { recursive: true, force: true });
});

test('kubeconfig is 0600 and the server reports the pinned version', async () => {
  assert.is(statSync(join(dir, 'kubeconfig')).mode & 0o777, 0o600);
  const v = JSON.parse(await kubectl('version', '-o', 'json')) as { serverVersion: { gitVersion: string }; clientVersion: { gitVersion: string } };
  assert.is(v.serverVersion.gitVersion, K8S_VERSION);
  assert.is(v.clientVersion.gitVersion, K8S_VERSION);
  assert.match(await helm('version', '--short'), /^v3\.22\.0/);
});

test('helm installs the stand-in vault chart and vault-0 becomes Ready through kwok', async () => {
  await helm('upgrade', '--install', 'vault', join(root, 'lab/charts/vault'), '-n', 'vault', '--create-namespace', '--set', 'server.dev.enabled=true', '--set', 'injector.enabled=false', '--wait', '--timeout', '120s');
  const pod = JSON.parse(await kubectl('get', 'pod', 'vault-0', '-n', 'vault', '-o', 'json')) as Pod;
  assert.ok(ready(pod), `vault-0 not Ready: ${JSON.stringify(pod.status)}`);
  assert.is(pod.spec.nodeName, 'kwok-node-0');
  assert.is(envOf(pod).VAULT_DEV_ROOT_TOKEN_ID, 'root');
  // No role annotation on its service account: the webhook leaves it alone.
  assert.is(envOf(pod).AWS_ROLE_ARN, undefined);
  assert.ok(!(pod.spec.volumes ?? []).some((v) => v.name === TOKEN_VOLUME));
  await kubectl('get', 'serviceaccount', 'vault', '-n', 'vault');
  await kubectl('get', 'service', 'vault', 'vault-internal', '-n', 'vault');
  assert.is((await kubectl('get', 'deploy', '-n', 'vault', '-o', 'name')).trim(), '', 'injector.enabled=false renders no injector');
});

test('gloo with the role annotation: pods run with IRSA env and projected token injected by the webhook', async () => {
  const values = {
    settings: { secretOptions: { sources: [{ vault: { address: 'http://vault-internal.vault:8200', aws: { iamServerIdHeader: 'vault.gloo.example.com', mountPath: 'aws', region: REGION, vaultRole: 'dev-role-iam-k8s-lab-test' }, pathPrefix: 'dev' } }, { kubernetes: {} }] } },
    gloo: { serviceAccount: { extraAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } },
    discovery: { serviceAccount: { extraAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } },
  };
  const file = join(dir, 'gloo-values.yaml');
  writeFileSync(file, YAML.stringify(values));
  await helm('upgrade', '--install', 'gloo', join(root, 'lab/charts/gloo'), '-n', 'gloo-system', '--create-namespace', '--values', file, '--wait', '--timeout', '120s');

  for (const sa of ['gloo', 'discovery']) {
    const acct = JSON.parse(await kubectl('get', 'serviceaccount', sa, '-n', 'gloo-system', '-o', 'json')) as { metadata: { annotations?: Record<string, string> } };
    assert.is(acct.metadata.annotations?.['eks.amazonaws.com/role-arn'], ROLE_ARN);
    const list = await pods('gloo-system', `gloo=${sa}`);
    assert.is(list.length, 1, `one ${sa} pod`);
    const pod = list[0]!;
    assert.ok(ready(pod), `${pod.metadata.name} not running and Ready: ${JSON.stringify(pod.status)}`);
    const e = envOf(pod);
    assert.is(e.AWS_ROLE_ARN, ROLE_ARN);
    assert.is(e.AWS_WEB_IDENTITY_TOKEN_FILE, TOKEN_FILE);
    assert.is(e.AWS_REGION, REGION);
    assert.is(e.AWS_DEFAULT_REGION, REGION);
    assert.is(e.AWS_STS_REGIONAL_ENDPOINTS, 'regional');
    const vol = (pod.spec.volumes ?? []).find((v) => v.name === TOKEN_VOLUME);
    assert.is(vol?.projected?.sources[0]?.serviceAccountToken?.audience, 'sts.amazonaws.com');
    assert.ok(pod.spec.containers[0]!.volumeMounts?.some((m) => m.name === TOKEN_VOLUME && TOKEN_FILE.startsWith(m.mountPath)));
  }

  const settings = JSON.parse(await kubectl('get', 'settings.gloo.solo.io', 'default', '-n', 'gloo-system', '-o', 'json')) as { spec: { secretOptions: typeof values.settings.secretOptions } };
  assert.equal(settings.spec.secretOptions, values.settings.secretOptions);
});

test('kubectl create token gives an IRSA token the lab issuer JWKS verifies', async () => {
  const token = (await kubectl('create', 'token', 'gloo', '-n', 'gloo-system', '--audience', 'sts.amazonaws.com')).trim();
  const jwks = createLocalJWKSet(await issuerJwks(dir));
  const { payload } = await jwtVerify(token, jwks, { issuer: ctx.issuer, audience: 'sts.amazonaws.com' });
  assert.is(payload.sub, 'system:serviceaccount:gloo-system:gloo');
  assert.is(decodeProtectedHeader(token).kid, (await issuerJwks(dir)).keys[0]!.kid);
  // The API server accepts the tokens it issues for its own audience, too.
  const own = (await kubectl('create', 'token', 'gloo', '-n', 'gloo-system')).trim();
  const res = await kubeRequest(ctx, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: own } });
  assert.is((res.body as { status?: { authenticated?: boolean } }).status?.authenticated, true, res.text);
});

test('a second afterK8sStart changes nothing (idempotent)', async () => {
  await afterK8sStart(ctx);
  assert.ok(existsSync(join(dir, 'kubeconfig')));
  assert.is((await kubectl('get', 'mutatingwebhookconfiguration', '-o', 'name')).trim(), 'mutatingwebhookconfiguration.admissionregistration.k8s.io/pod-identity-webhook');
});

test.run();
