// Docker mode's Kubernetes part (LAB_MODE=docker LAB_K8S=1), for a machine with Docker,
// kind, kubectl, helm and internet. The lab makes the cluster and what EKS would give it
// for IRSA; it installs no Vault: step 04 does, from HashiCorp's chart, as on EKS (lab-env
// exports this cluster's KUBECONFIG, no VAULT_HELM_CHART, and a VAULT_ADDR nothing answers
// at, so step 04 installs and the runner reaches vault-0 through its own port-forward).
// After the AWS emulator and the STS front are up, in this order:
//
//   1 kind create cluster  lab/kind.yaml with ISSUER_URL = the lab cluster's EKS issuer
//                          (as the emulator's DescribeCluster reports it), KIND_NODE_IMAGE
//                          pinned in settings.ts, and the lab CA mounted on the node, so
//                          projected service-account tokens are IRSA tokens
//   2 docker network connect  the kind node joins the lab's network: pods and the API
//                          server reach the STS front (sts-proxy) and the webhook by name
//   3 kubectl wait         the node is Ready
//   4 kubectl apply        the webhook's service account, allowed to read service accounts only
//   5 kubectl create token its token (into LAB_DIR/secrets, 0600; never printed)
//   6 docker run irsa-webhook  the lab's stand-in for EKS's pod-identity webhook
//                          (lab/lib/irsa-webhook.ts, bundled, on the Node image) on the lab
//                          network, TLS for the name irsa-webhook; it also adds HTTPS_PROXY to
//                          the STS front and the lab CA to the pods it gives IRSA
//   7 docker logs          until the webhook listens
//   8 kubectl apply        the MutatingWebhookConfiguration pod-identity-webhook (pods,
//                          CREATE, failurePolicy Ignore, as on EKS)
//
// Any failure removes what was made (kind delete cluster; the caller removes the
// containers) and is one sentence. Everything run is a child process of `kind`, `kubectl`
// and `docker`: tests put recording stand-ins first on PATH (test/lab-kind.test.ts).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { onPath } from './install-common.js';
import { ownedPid, stopService } from './procs.js';
import { dockerNames, firstLine } from './docker.js';
import { LabError, UPSTREAM_IMAGES } from './settings.js';
import { writeSecret } from './secret-file.js';
import { WEBHOOK_NAME, WEBHOOK_PATH, webhookRegistration } from './irsa-webhook.js';

/** What each tool is and where to get it, for the one sentence when it is missing. */
export const KIND_TOOLS: Record<'kind' | 'kubectl' | 'helm', string> = {
  kind: 'kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation; macOS: brew install kind)',
  kubectl: 'kubectl (https://kubernetes.io/docs/tasks/tools/; macOS: brew install kubectl)',
  helm: 'helm (https://helm.sh/docs/intro/install/; macOS: brew install helm)',
};

/** One sentence naming every missing tool and how to install it, or undefined. */
export function missingKindTools(has: (tool: string) => boolean = (t) => !!onPath(t)): string | undefined {
  const missing = (Object.keys(KIND_TOOLS) as (keyof typeof KIND_TOOLS)[]).filter((t) => !has(t));
  if (!missing.length) return undefined;
  return `LAB_MODE=docker LAB_K8S=1 needs ${missing.map((t) => KIND_TOOLS[t]).join(', ')} on PATH: install ${missing.length > 1 ? 'them' : 'it'}, or unset LAB_K8S for Docker mode without a cluster`;
}

/** Where the lab CA is on the kind node, and in the pods the webhook gives IRSA. */
export const LAB_CA_ON_NODE = '/etc/vault-irsa-runbook-lab/sts-ca.pem';
/** The webhook on the lab network: its name (network alias, TLS name) and port. */
export const WEBHOOK_HOST = 'irsa-webhook';
export const WEBHOOK_PORT = 8444;
const WEBHOOK_SA = 'lab-irsa-webhook';
/** LAB_DIR/docker/<file> as the webhook's container sees it (LAB_DIR is mounted at its own path). */
const kindFiles = (dir: string) => ({
  kindConfig: join(dir, 'kind.yaml'),
  kubeconfig: join(dir, 'kubeconfig'),
  apiCa: join(dir, 'docker', 'kind-api-ca.pem'),
  webhookCa: join(dir, 'docker', 'webhook-ca.pem'),
  webhookCaKey: join(dir, 'secrets', 'kind-webhook-ca-key.pem'),
  webhookCert: join(dir, 'docker', 'webhook.pem'),
  webhookKey: join(dir, 'secrets', 'kind-webhook-key.pem'),
  webhookToken: join(dir, 'secrets', 'kind-webhook-token'),
  rbac: join(dir, 'docker', 'kind-webhook-rbac.json'),
  webhookConfig: join(dir, 'docker', 'kind-webhook-config.json'),
});

export interface KindContext {
  root: string;
  dir: string;
  issuer: string;
  region: string;
  /** The STS front as pods reach it on the lab network (http://sts-proxy:8182). */
  stsFront: string;
  /** The Node image that runs the webhook bundle, and its node binary. */
  nodeImage: string;
  nodeBin: string;
  /** lab/lib/irsa-webhook.ts bundled into one file under LAB_DIR (docker-lab.ts bundles it). */
  webhookBundle: string;
  /** Env of the tools (tests: a PATH with stand-ins). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the webhook to listen (tests: short). */
  webhookWaitMs?: number;
}

/** lab/kind.yaml with the lab's issuer, the pinned node image and the lab CA's file. */
export function renderKindConfig(root: string, issuer: string, labCa: string): string {
  const text = readFileSync(join(root, 'lab', 'kind.yaml'), 'utf8');
  for (const p of ['ISSUER_URL', 'KIND_NODE_IMAGE', 'LAB_STS_CA', 'LAB_CA_ON_NODE'])
    if (!text.includes(p)) throw new LabError(`lab/kind.yaml has lost its ${p} placeholder: restore it from git`);
  return text.replaceAll('ISSUER_URL', issuer).replaceAll('KIND_NODE_IMAGE', UPSTREAM_IMAGES.kindNode).replaceAll('LAB_STS_CA', labCa).replaceAll('LAB_CA_ON_NODE', LAB_CA_ON_NODE);
}

/** The webhook's service account, allowed to read service accounts and nothing else. */
export function webhookRbac(): string {
  const meta = (kind: string, ns?: string) => ({ kind, metadata: { name: WEBHOOK_SA, ...(ns ? { namespace: ns } : {}), labels: { 'vault-irsa-runbook/lab': 'true' } } });
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', ...meta('ServiceAccount', 'kube-system') },
      { apiVersion: 'rbac.authorization.k8s.io/v1', ...meta('ClusterRole'), rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        ...meta('ClusterRoleBinding'),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: WEBHOOK_SA },
        subjects: [{ kind: 'ServiceAccount', name: WEBHOOK_SA, namespace: 'kube-system' }],
      },
    ],
  };
  return JSON.stringify(list, null, 2) + '\n'; // JSON is YAML for kubectl
}

/** The MutatingWebhookConfiguration EKS has, pointing at the lab's webhook on the lab network. */
export function webhookConfiguration(caPem: string): string {
  return JSON.stringify(webhookRegistration(`https://${WEBHOOK_HOST}:${WEBHOOK_PORT}${WEBHOOK_PATH}`, caPem), null, 2) + '\n';
}

/** Pure: the `docker run` argv of the webhook's container (no port published: only the kind node calls it). */
export function webhookContainerArgs(ctx: Pick<KindContext, 'dir' | 'region' | 'stsFront' | 'nodeImage' | 'nodeBin' | 'webhookBundle'>): string[] {
  const n = dockerNames(ctx.dir);
  const f = kindFiles(ctx.dir);
  return [
    'run', '-d',
    '--name', n.container('irsa-webhook'),
    '--label', n.label,
    '--network', n.network,
    '--network-alias', WEBHOOK_HOST,
    '-e', 'NODE_NO_WARNINGS=1',
    '-v', `${ctx.dir}:${ctx.dir}:ro`,
    '--entrypoint', ctx.nodeBin,
    ctx.nodeImage,
    ctx.webhookBundle,
    '--host', '0.0.0.0',
    '--port', String(WEBHOOK_PORT),
    '--cert', f.webhookCert,
    '--key', f.webhookKey,
    '--api', `https://${n.kindCluster}-control-plane:6443`,
    '--token-file', f.webhookToken,
    '--ca', f.apiCa,
    '--region', ctx.region,
    '--sts-front', ctx.stsFront,
    '--lab-ca-file', LAB_CA_ON_NODE,
  ];
}

/** A CA and a serving certificate for the name irsa-webhook (openssl, as the process lab's PKI). */
export function webhookPki(dir: string): void {
  const f = kindFiles(dir);
  mkdirSync(join(dir, 'docker'), { recursive: true });
  const conf = join(dir, 'docker', 'webhook-openssl.cnf');
  writeFileSync(conf, `[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = vault-irsa-runbook lab\n[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier = hash\n[leaf]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:${WEBHOOK_HOST}\n`);
  const openssl = (args: string[]) => {
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new LabError(`openssl ${args[0]} failed for the lab's IRSA webhook certificate: ${firstLine(err.stderr?.toString() ?? '') || err.message}`);
    }
  };
  if (existsSync(f.webhookCert) && existsSync(f.webhookKey) && existsSync(f.webhookCa)) return;
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  openssl(['req', '-x509', '-new', '-config', conf, '-extensions', 'ca', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=vault-irsa-runbook lab webhook CA', '-keyout', f.webhookCaKey, '-out', f.webhookCa]);
  chmodSync(f.webhookCaKey, 0o600);
  const csr = `${f.webhookKey}.csr`;
  openssl(['req', '-new', '-config', conf, '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${WEBHOOK_HOST}`, '-keyout', f.webhookKey, '-out', csr]);
  chmodSync(f.webhookKey, 0o600);
  openssl(['x509', '-req', '-in', csr, '-CA', f.webhookCa, '-CAkey', f.webhookCaKey, '-set_serial', `0x${randomBytes(8).toString('hex').replace(/^[89a-f]/, '1')}`, '-days', '365', '-extfile', conf, '-extensions', 'leaf', '-out', f.webhookCert]);
  rmSync(csr, { force: true });
}

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function runTool(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 15 * 60_000): Promise<Out> {
  return new Promise((resolveP) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolveP({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export async function kindUp(ctx: KindContext, log: (l: string) => void): Promise<void> {
  const env = ctx.env ?? process.env;
  const missing = missingKindTools((t) => {
    for (const d of (env.PATH ?? '').split(':')) if (d && onPathIn(d, t)) return true;
    return false;
  });
  if (missing) throw new LabError(missing);
  const n = dockerNames(ctx.dir);
  const f = kindFiles(ctx.dir);
  mkdirSync(join(ctx.dir, 'docker'), { recursive: true });
  writeFileSync(f.kindConfig, renderKindConfig(ctx.root, ctx.issuer, join(ctx.dir, 'sts-ca.pem')));
  writeFileSync(f.rbac, webhookRbac());
  webhookPki(ctx.dir);
  writeFileSync(f.webhookConfig, webhookConfiguration(readFileSync(f.webhookCa, 'utf8')));
  const kc = ['--kubeconfig', f.kubeconfig];

  const step = async (what: string, cmd: string, args: string[], fix: string, timeoutMs?: number): Promise<Out> => {
    log(`up: ${what} ...`);
    const r = await runTool(cmd, args, env, timeoutMs);
    if (r.code === 0) return r;
    await kindDown(ctx.dir, () => undefined, env);
    const why = firstLine(r.stderr.split('\n').filter((l) => /error|fail|timed out|deadline/i.test(l)).join('\n') || r.stderr || r.stdout) || `${cmd} exited ${r.code}`;
    throw new LabError(`${what} failed (${why}): ${fix}; the lab removed its kind cluster`);
  };
  const again = 'run `make lab-down` and try again';

  await step(`kind create cluster ${n.kindCluster}`, 'kind', ['create', 'cluster', '--name', n.kindCluster, '--config', f.kindConfig, '--kubeconfig', f.kubeconfig, '--wait', '180s'], 'check that Docker has the CPU and memory for a kind node and that kind can pull ' + UPSTREAM_IMAGES.kindNode);
  await step(`joining the kind node to the lab network ${n.network}`, 'docker', ['network', 'connect', n.network, `${n.kindCluster}-control-plane`], again);
  await step('waiting for the kind node to be Ready', 'kubectl', [...kc, 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s'], 'see `kind get nodes` and `docker logs`');
  // The webhook calls the API server as the node's name on the lab network, with the cluster's CA.
  writeFileSync(f.apiCa, clusterCa(f.kubeconfig));
  await step('the IRSA webhook\'s service account (reads service accounts only)', 'kubectl', [...kc, 'apply', '-f', f.rbac], again, 60_000);
  const tok = await step('its token', 'kubectl', [...kc, 'create', 'token', WEBHOOK_SA, '-n', 'kube-system', '--duration=8760h'], again, 60_000);
  writeSecret(f.webhookToken, tok.stdout.trim() + '\n');
  await step(`the IRSA webhook container ${n.container('irsa-webhook')} (${ctx.nodeImage})`, 'docker', webhookContainerArgs(ctx), again);
  await waitWebhook(ctx, env, async (why) => {
    await kindDown(ctx.dir, () => undefined, env);
    throw new LabError(`the lab's IRSA webhook did not start (${why}): see \`docker logs ${n.container('irsa-webhook')}\`, then ${again}; the lab removed its kind cluster`);
  });
  await step('registering the IRSA webhook (MutatingWebhookConfiguration pod-identity-webhook)', 'kubectl', [...kc, 'apply', '-f', f.webhookConfig], again, 60_000);
  log(`up: kind cluster ${n.kindCluster} ready, with the IRSA webhook; step 04 installs Vault from HashiCorp's chart (KUBECONFIG=${f.kubeconfig})`);
}

/** The cluster CA from kind's kubeconfig (certificate-authority-data), PEM. */
function clusterCa(kubeconfig: string): string {
  let data: string | undefined;
  try {
    const y = YAML.parse(readFileSync(kubeconfig, 'utf8')) as { clusters?: { cluster?: Record<string, string> }[] };
    data = y.clusters?.[0]?.cluster?.['certificate-authority-data'];
  } catch {
    /* handled below */
  }
  if (!data) throw new LabError(`kind wrote no cluster CA into ${kubeconfig}: run \`make lab-down\` and try again`);
  return Buffer.from(data, 'base64').toString('utf8');
}

/** `docker logs` until the webhook says it listens; the container stopping or the time running out is the reason given. */
async function waitWebhook(ctx: KindContext, env: NodeJS.ProcessEnv, fail: (why: string) => Promise<never>): Promise<void> {
  const name = dockerNames(ctx.dir).container('irsa-webhook');
  const deadline = Date.now() + (ctx.webhookWaitMs ?? 60_000);
  for (;;) {
    const r = await runTool('docker', ['logs', name], env, 20_000);
    if (/irsa-webhook listening/.test(r.stdout + r.stderr)) return;
    if (/irsa-webhook: /.test(r.stderr) || r.code !== 0) return fail(firstLine(r.stderr) || `docker logs exited ${r.code}`);
    if (Date.now() > deadline) return fail(`not listening after ${Math.round((ctx.webhookWaitMs ?? 60_000) / 1000)} s`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

function onPathIn(d: string, t: string): boolean {
  try {
    return statSync(join(d, t)).isFile();
  } catch {
    return false;
  }
}

/** Remove the lab's kind cluster (and a port-forward an older lab started; idempotent); returns what it removed. */
export async function kindDown(dir: string, log: (l: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const removed: string[] = [];
  if (ownedPid(dir, 'vault-port-forward') !== undefined) {
    await stopService(dir, 'vault-port-forward');
    removed.push('vault-port-forward');
  }
  const n = dockerNames(dir);
  const list = await runTool('kind', ['get', 'clusters'], env, 60_000);
  if (list.code === 0 && list.stdout.split('\n').map((s) => s.trim()).includes(n.kindCluster)) {
    const r = await runTool('kind', ['delete', 'cluster', '--name', n.kindCluster, '--kubeconfig', join(dir, 'kubeconfig')], env, 5 * 60_000);
    if (r.code !== 0) throw new LabError(`kind delete cluster ${n.kindCluster} failed (${firstLine(r.stderr)}): run \`kind delete cluster --name ${n.kindCluster}\` by hand`);
    removed.push(`kind cluster ${n.kindCluster}`);
  }
  for (const r of removed) log(`down: removed ${r}`);
  return removed;
}
