// The lab's Kubernetes API, as processes like the rest of the lab (issue 13):
//
//   etcd                     storage, loopback only
//   kube-apiserver           loopback only; token auth (one admin token, group
//                            system:masters); service-account tokens are signed with
//                            the LAB ISSUER'S key (secrets/issuer-key.pem) and carry
//                            iss = the lab cluster's EKS issuer URL, so
//                            `kubectl create token` gives real IRSA-shaped tokens that
//                            the lab issuer's JWKS validates
//   irsa-webhook             the EKS pod identity webhook's job (lab/lib/irsa-webhook.ts)
//   kube-controller-manager  Deployments -> ReplicaSets -> Pods, StatefulSets, namespaces,
//   kube-scheduler           service accounts, garbage collection; binding pods to the node
//   kwok                     simulates the node and its pods: they become Running and
//                            Ready without a kubelet or container runtime
//
// k8sServices() describes the processes (lab/lib/service-spec.ts) and writes the
// files they need; the lab lifecycle starts them in that order, each once the one
// before is ready; afterK8sStart() then writes LAB_DIR/kubeconfig, registers the
// webhook and creates kwok's node.
//
// Files (LAB_DIR = ctx.dir): k8s/ca.pem (lab Kubernetes CA), k8s/apiserver.pem,
// k8s/webhook.pem, k8s/etcd/ (data), k8s/kwok-home/ (kwok's $HOME, so a user's
// ~/.kwok/kwok.yaml is not read); secrets/k8s-*.pem (keys), secrets/k8s-tokens.csv,
// secrets/k8s-admin-token, secrets/k8s-components.kubeconfig; kubeconfig (0600).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { K8sBins } from './k8s-install.js';
import type { ServiceSpec } from './service-spec.js';
import { WEBHOOK_NAME, WEBHOOK_PATH, webhookRegistration } from './irsa-webhook.js';

export { installK8s, k8sRecipeHash, k8sCacheDir, K8S_VERSION, ETCD_VERSION, KWOK_VERSION, HELM_VERSION, type K8sBins } from './k8s-install.js';
export type { ServiceSpec } from './service-spec.js';

export const STS_AUDIENCE = 'sts.amazonaws.com';
export const SERVICE_CIDR = '10.96.0.0/16';
/** The simulated node every pod is scheduled on. */
export const KWOK_NODE = 'kwok-node-0';
const KWOK_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface K8sPorts {
  etcd: number;
  apiserver: number;
  webhook: number;
  /** etcd's peer listener (a single member still binds one); default etcd + 1. */
  etcdPeer?: number;
  /** kwok's health server; default webhook + 1. */
  kwok?: number;
}

export interface K8sContext {
  root: string;
  /** LAB_DIR. */
  dir: string;
  bins: K8sBins;
  ports: K8sPorts;
  /** The lab cluster's issuer, as moto's DescribeCluster gives it (lab.ts readClusters). */
  issuer: string;
  region: string;
}

export interface K8sPaths {
  ca: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  webhookCert: string;
  webhookKey: string;
  tokens: string;
  adminToken: string;
  componentsKubeconfig: string;
  kubeconfig: string;
  issuerKey: string;
  etcdData: string;
  kwokHome: string;
  apiserverCertDir: string;
  opensslConf: string;
}

export function k8sPaths(dir: string): K8sPaths {
  const k = join(dir, 'k8s');
  const s = join(dir, 'secrets');
  return {
    ca: join(k, 'ca.pem'),
    caKey: join(s, 'k8s-ca-key.pem'),
    apiserverCert: join(k, 'apiserver.pem'),
    apiserverKey: join(s, 'k8s-apiserver-key.pem'),
    webhookCert: join(k, 'webhook.pem'),
    webhookKey: join(s, 'k8s-webhook-key.pem'),
    tokens: join(s, 'k8s-tokens.csv'),
    adminToken: join(s, 'k8s-admin-token'),
    componentsKubeconfig: join(s, 'k8s-components.kubeconfig'),
    kubeconfig: join(dir, 'kubeconfig'),
    issuerKey: join(s, 'issuer-key.pem'),
    etcdData: join(k, 'etcd'),
    kwokHome: join(k, 'kwok-home'),
    apiserverCertDir: join(k, 'apiserver-certs'),
    opensslConf: join(k, 'openssl.cnf'),
  };
}

const ports = (p: K8sPorts) => ({ ...p, etcdPeer: p.etcdPeer ?? p.etcd + 1, kwok: p.kwok ?? p.webhook + 1 });
export const apiserverUrl = (ctx: Pick<K8sContext, 'ports'>) => `https://127.0.0.1:${ctx.ports.apiserver}`;

function writePrivate(file: string, data: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, data, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

// ---- certificates (openssl: on Linux and macOS alike; the lab's STS CA uses it too) ----

const OPENSSL_CONF = `# Lab Kubernetes PKI (written by lab/lib/k8s.ts)
[req]
distinguished_name = dn
prompt = no
[dn]
CN = vault-irsa-runbook lab
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[apiserver]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
[webhook]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
`;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

function ensurePki(p: K8sPaths): void {
  mkdirSync(dirname(p.ca), { recursive: true });
  mkdirSync(dirname(p.caKey), { recursive: true, mode: 0o700 });
  writeFileSync(p.opensslConf, OPENSSL_CONF);
  const days = '365';
  if (!existsSync(p.ca) || !existsSync(p.caKey)) {
    rmSync(p.apiserverCert, { force: true });
    rmSync(p.webhookCert, { force: true });
    openssl(['req', '-x509', '-new', '-config', p.opensslConf, '-extensions', 'ca', '-newkey', 'rsa:2048', '-nodes', '-days', days, '-subj', '/CN=vault-irsa-runbook lab Kubernetes CA', '-keyout', p.caKey, '-out', p.ca]);
    chmodSync(p.caKey, 0o600);
  }
  const leaf = (cert: string, key: string, section: string, cn: string) => {
    if (existsSync(cert) && existsSync(key)) return;
    const csr = `${key}.csr`;
    openssl(['req', '-new', '-config', p.opensslConf, '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr]);
    chmodSync(key, 0o600);
    openssl(['x509', '-req', '-in', csr, '-CA', p.ca, '-CAkey', p.caKey, '-set_serial', `0x${randomBytes(8).toString('hex').replace(/^[89a-f]/, '1')}`, '-days', days, '-extfile', p.opensslConf, '-extensions', section, '-out', cert]);
    rmSync(csr, { force: true });
  };
  leaf(p.apiserverCert, p.apiserverKey, 'apiserver', 'kube-apiserver');
  leaf(p.webhookCert, p.webhookKey, 'webhook', 'irsa-webhook');
}

function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'lab-admin', user: { token } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab-admin' } }],
    'current-context': 'lab',
  });
}

/** The admin token (system:masters) of the lab API server. */
export function adminToken(dir: string): string {
  return readFileSync(k8sPaths(dir).adminToken, 'utf8').trim();
}

function ensureAuth(p: K8sPaths, server: string): void {
  if (!existsSync(p.adminToken) || !existsSync(p.tokens)) {
    const token = randomBytes(24).toString('hex');
    writePrivate(p.tokens, `${token},lab-admin,lab-admin,"system:masters"\n`);
    writePrivate(p.adminToken, `${token}\n`);
  }
  writePrivate(p.componentsKubeconfig, kubeconfigYaml(server, readFileSync(p.ca, 'utf8'), readFileSync(p.adminToken, 'utf8').trim()));
}

// ---- talking to the API server (no kubectl needed) ----

export interface KubeResponse {
  status: number;
  body: unknown;
  text: string;
}

/** One request to the lab API server as the admin. */
export function kubeRequest(ctx: Pick<K8sContext, 'dir' | 'ports'>, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse> {
  const p = k8sPaths(ctx.dir);
  const url = new URL(path, apiserverUrl(ctx));
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: readFileSync(p.ca),
        timeout: 15_000,
        headers: { authorization: `Bearer ${adminToken(ctx.dir)}`, accept: 'application/json', ...(data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** Server-side apply (create or update, idempotent) of one object. */
export async function kubeApply(ctx: Pick<K8sContext, 'dir' | 'ports'>, path: string, obj: unknown): Promise<unknown> {
  const res = await kubeRequest(ctx, 'PATCH', `${path}?fieldManager=vault-irsa-lab&force=true`, obj, 'application/apply-patch+yaml');
  if (res.status >= 300) throw new Error(`applying ${path}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  return res.body;
}

/** Ready check: a leader-election lease in kube-system renewed within the last 20 s. */
function leaseFresh(ctx: K8sContext, name: string): () => Promise<boolean> {
  return async () => {
    try {
      const res = await kubeRequest(ctx, 'GET', `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`);
      const renew = (res.body as { spec?: { renewTime?: string } } | undefined)?.spec?.renewTime;
      return res.status === 200 && Boolean(renew) && Date.now() - Date.parse(renew!) < 20_000;
    } catch {
      return false;
    }
  };
}

// ---- the processes ----

/**
 * The lab's Kubernetes processes, in start order, each with its ready check.
 * Writes what they need under LAB_DIR first (idempotent: a restart keeps the CA,
 * tokens and etcd data). Needs LAB_DIR/secrets/issuer-key.pem (the lab issuer's key).
 */
export function k8sServices(ctx: K8sContext): ServiceSpec[] {
  const p = k8sPaths(ctx.dir);
  const pt = ports(ctx.ports);
  if (!existsSync(p.issuerKey)) throw new Error(`no lab issuer key at ${p.issuerKey}: the lab issuer must be set up before its Kubernetes API`);
  if (!/^https:\/\//.test(ctx.issuer)) throw new Error(`the service-account issuer must be an https URL, got "${ctx.issuer}"`);
  const server = apiserverUrl(ctx);
  ensurePki(p);
  ensureAuth(p, server);
  for (const d of [p.etcdData, p.kwokHome, p.apiserverCertDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const etcdUrl = `http://127.0.0.1:${pt.etcd}`;
  const peerUrl = `http://127.0.0.1:${pt.etcdPeer}`;
  const tsx = import.meta.resolve('tsx');
  const webhook = fileURLToPath(new URL('./irsa-webhook.ts', import.meta.url));

  return [
    {
      name: 'etcd',
      command: ctx.bins.etcd,
      args: [
        '--name=lab',
        `--data-dir=${p.etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=lab=${peerUrl}`,
        '--initial-cluster-state=new',
        // A lab: losing the last writes on a crash is fine, waiting for fsync on a slow disk is not.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      ready: { url: `${etcdUrl}/health` },
    },
    {
      name: 'kube-apiserver',
      command: ctx.bins.kubeApiserver,
      args: [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${pt.apiserver}`,
        `--tls-cert-file=${p.apiserverCert}`,
        `--tls-private-key-file=${p.apiserverKey}`,
        `--client-ca-file=${p.ca}`,
        `--cert-dir=${p.apiserverCertDir}`,
        `--token-auth-file=${p.tokens}`,
        '--authorization-mode=RBAC',
        // IRSA: tokens name the EKS issuer and are signed with the lab issuer's key,
        // whose JWKS (the lab issuer's /keys) is where the issuer's discovery points.
        `--service-account-issuer=${ctx.issuer}`,
        `--service-account-key-file=${p.issuerKey}`,
        `--service-account-signing-key-file=${p.issuerKey}`,
        `--service-account-jwks-uri=${ctx.issuer}/keys`,
        `--api-audiences=${ctx.issuer},${STS_AUDIENCE}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--allow-privileged=true',
        '--profiling=false',
        '--enable-priority-and-fairness=false',
      ],
      ready: { url: `${server}/readyz`, ca: p.ca },
    },
    {
      name: 'irsa-webhook',
      command: process.execPath,
      args: ['--import', tsx, webhook, '--port', String(pt.webhook), '--cert', p.webhookCert, '--key', p.webhookKey, '--api', server, '--token-file', p.adminToken, '--ca', p.ca, '--region', ctx.region],
      ready: { url: `https://127.0.0.1:${pt.webhook}/healthz`, ca: p.ca },
    },
    {
      name: 'kube-controller-manager',
      command: ctx.bins.kubeControllerManager,
      args: [
        `--kubeconfig=${p.componentsKubeconfig}`,
        '--secure-port=0',
        '--leader-elect=true',
        `--root-ca-file=${p.ca}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--use-service-account-credentials=false',
        '--profiling=false',
      ],
      ready: leaseFresh(ctx, 'kube-controller-manager'),
    },
    {
      name: 'kube-scheduler',
      command: ctx.bins.kubeScheduler,
      args: [`--kubeconfig=${p.componentsKubeconfig}`, '--secure-port=0', '--leader-elect=true', '--profiling=false'],
      ready: leaseFresh(ctx, 'kube-scheduler'),
    },
    {
      name: 'kwok',
      command: ctx.bins.kwok,
      args: [
        `--kubeconfig=${p.componentsKubeconfig}`,
        `--config=${ctx.bins.kwokStages}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        '--node-ip=127.0.0.1',
        `--server-address=127.0.0.1:${pt.kwok}`,
        '--node-lease-duration-seconds=40',
        '--cidr=10.244.0.0/16',
      ],
      env: { HOME: p.kwokHome },
      ready: { url: `http://127.0.0.1:${pt.kwok}/healthz` },
    },
  ];
}

/** The kubeconfig text for LAB_DIR/kubeconfig (admin token, CA embedded). */
export function labKubeconfig(ctx: Pick<K8sContext, 'dir' | 'ports'>): string {
  const p = k8sPaths(ctx.dir);
  return kubeconfigYaml(apiserverUrl(ctx), readFileSync(p.ca, 'utf8'), adminToken(ctx.dir));
}

/**
 * Once every service is ready: writes LAB_DIR/kubeconfig (0600), registers the
 * IRSA webhook (as EKS does: pods, CREATE, failurePolicy Ignore) and creates the
 * kwok node, waiting until it is Ready. Idempotent.
 */
export async function afterK8sStart(ctx: K8sContext): Promise<void> {
  const p = k8sPaths(ctx.dir);
  const pt = ports(ctx.ports);
  writePrivate(p.kubeconfig, labKubeconfig(ctx));

  await kubeApply(ctx, `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${WEBHOOK_NAME}`, webhookRegistration(`https://127.0.0.1:${pt.webhook}${WEBHOOK_PATH}`, readFileSync(p.ca)));

  await kubeApply(ctx, `/api/v1/nodes/${KWOK_NODE}`, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: KWOK_NODE,
      annotations: { [KWOK_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { type: 'kwok', 'kubernetes.io/hostname': KWOK_NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/role': 'agent' },
    },
  });

  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await kubeRequest(ctx, 'GET', `/api/v1/nodes/${KWOK_NODE}`);
    const conds = (res.body as { status?: { conditions?: { type: string; status: string }[] } } | undefined)?.status?.conditions ?? [];
    if (conds.some((c) => c.type === 'Ready' && c.status === 'True')) return;
    if (Date.now() > deadline) throw new Error(`kwok did not make node ${KWOK_NODE} Ready within 60 s (is the kwok process running? see its log)`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
