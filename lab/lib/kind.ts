// Docker mode's Kubernetes part (LAB_MODE=docker LAB_K8S=1), for a machine with Docker,
// kind, kubectl, helm and internet. After the AWS emulator and the STS front are up, in
// this order:
//
//   1 kind create cluster  lab/kind.yaml with ISSUER_URL = the lab cluster's EKS issuer
//                          (as moto's DescribeCluster reports it) and KIND_NODE_IMAGE pinned
//                          in settings.ts, so projected service-account tokens are IRSA tokens
//   2 docker network connect  the kind node joins the lab's network: pods reach moto and the
//                          STS front by name (sts-proxy)
//   3 kubectl wait         the node is Ready
//   4 kubectl create configmap  the lab CA (the STS front's certificate) for Vault's pod
//   5 helm upgrade --install vault  HashiCorp's chart in dev mode, its service account
//                          annotated with the Vault-server role; the env the EKS webhook would
//                          add (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, the projected token
//                          with audience sts.amazonaws.com) set through the chart's values,
//                          with HTTPS_PROXY to the STS front; the root token in a 0600 values
//                          file, never in argv; --wait with a timeout
//   6 kubectl port-forward svc/vault  127.0.0.1:LAB_VAULT_PORT, a detached lab process
//
// Any failure removes what was made (kind delete cluster; the caller removes the
// containers) and is one sentence. Everything run is a child process of `kind`, `kubectl`,
// `helm` and `docker`: tests put recording stand-ins first on PATH (test/lab-kind.test.ts).
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onPath } from './install-common.js';
import { ownedPid, startDetached, stopService } from './procs.js';
import { dockerNames, firstLine } from './docker.js';
import { LabError, UPSTREAM_IMAGES } from './settings.js';
import { writeSecret } from './aws-setup.js';

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

export const VAULT_CHART = { repo: 'https://helm.releases.hashicorp.com', chart: 'vault', namespace: 'vault', release: 'vault' } as const;
/** How long helm waits for Vault's pod; then the install counts as timed out. */
export const HELM_TIMEOUT = '5m';

export interface KindContext {
  root: string;
  dir: string;
  issuer: string;
  region: string;
  vaultServerRoleArn: string;
  vaultPort: number;
  rootToken: string;
  /** The STS front as pods reach it on the lab network (http://sts-proxy:8182). */
  stsFront: string;
  /** Env of the tools (tests: a PATH with stand-ins). */
  env?: NodeJS.ProcessEnv;
}

/** lab/kind.yaml with the lab's issuer and the pinned node image. */
export function renderKindConfig(root: string, issuer: string): string {
  const text = readFileSync(join(root, 'lab', 'kind.yaml'), 'utf8');
  if (!text.includes('ISSUER_URL') || !text.includes('KIND_NODE_IMAGE')) throw new LabError('lab/kind.yaml has lost its ISSUER_URL or KIND_NODE_IMAGE placeholder: restore it from git');
  return text.replaceAll('ISSUER_URL', issuer).replaceAll('KIND_NODE_IMAGE', UPSTREAM_IMAGES.kindNode);
}

/** Vault's chart values: dev mode, the annotated service account, and the pod identity EKS's webhook would inject. */
export function vaultValues(ctx: Pick<KindContext, 'region' | 'vaultServerRoleArn' | 'rootToken' | 'stsFront'>): string {
  const tokenDir = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
  const v = {
    injector: { enabled: false },
    server: {
      dev: { enabled: true, devRootToken: ctx.rootToken },
      serviceAccount: { name: 'vault', annotations: { 'eks.amazonaws.com/role-arn': ctx.vaultServerRoleArn } },
      extraEnvironmentVars: {
        AWS_ROLE_ARN: ctx.vaultServerRoleArn,
        AWS_WEB_IDENTITY_TOKEN_FILE: `${tokenDir}/token`,
        AWS_REGION: ctx.region,
        AWS_DEFAULT_REGION: ctx.region,
        AWS_STS_REGIONAL_ENDPOINTS: 'regional',
        AWS_CA_BUNDLE: '/etc/vault-irsa-runbook-lab/sts-ca.pem',
        HTTPS_PROXY: ctx.stsFront,
        NO_PROXY: '127.0.0.1,localhost,.svc,.cluster.local',
      },
      volumes: [
        { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } },
        { name: 'lab-sts-ca', configMap: { name: 'lab-sts-ca' } },
      ],
      volumeMounts: [
        { name: 'aws-iam-token', mountPath: tokenDir, readOnly: true },
        { name: 'lab-sts-ca', mountPath: '/etc/vault-irsa-runbook-lab', readOnly: true },
      ],
    },
  };
  return JSON.stringify(v, null, 2) + '\n'; // JSON is YAML: no yaml dependency needed here
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
  const kubeconfig = join(ctx.dir, 'kubeconfig');
  const kcfg = join(ctx.dir, 'kind.yaml');
  writeFileSync(kcfg, renderKindConfig(ctx.root, ctx.issuer));
  const values = join(ctx.dir, 'secrets', 'vault-values.json');
  writeSecret(values, vaultValues(ctx));

  const step = async (what: string, cmd: string, args: string[], fix: string, timeoutMs?: number): Promise<Out> => {
    log(`up: ${what} ...`);
    const r = await runTool(cmd, args, env, timeoutMs);
    if (r.code === 0) return r;
    await kindDown(ctx.dir, () => undefined, env);
    const why = firstLine(r.stderr.split('\n').filter((l) => /error|fail|timed out|deadline/i.test(l)).join('\n') || r.stderr || r.stdout) || `${cmd} exited ${r.code}`;
    throw new LabError(`${what} failed (${why}): ${fix}; the lab removed its kind cluster`);
  };

  await step(`kind create cluster ${n.kindCluster}`, 'kind', ['create', 'cluster', '--name', n.kindCluster, '--config', kcfg, '--kubeconfig', kubeconfig, '--wait', '180s'], 'check that Docker has the CPU and memory for a kind node and that kind can pull ' + UPSTREAM_IMAGES.kindNode);
  await step(`joining the kind node to the lab network ${n.network}`, 'docker', ['network', 'connect', n.network, `${n.kindCluster}-control-plane`], 'run `make lab-down` and try again');
  await step('waiting for the kind node to be Ready', 'kubectl', ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s'], 'see `kind get nodes` and `docker logs`');
  await step(`namespace ${VAULT_CHART.namespace}`, 'kubectl', ['--kubeconfig', kubeconfig, 'create', 'namespace', VAULT_CHART.namespace], 'run `make lab-down` and try again', 60_000);
  await step('the lab CA for Vault\'s pod', 'kubectl', ['--kubeconfig', kubeconfig, 'create', 'configmap', 'lab-sts-ca', '-n', VAULT_CHART.namespace, `--from-file=sts-ca.pem=${join(ctx.dir, 'sts-ca.pem')}`], 'run `make lab-down` and try again', 60_000);
  await step(
    `helm install of Vault's chart in dev mode (timeout ${HELM_TIMEOUT})`,
    'helm',
    ['upgrade', '--install', VAULT_CHART.release, VAULT_CHART.chart, '--repo', VAULT_CHART.repo, '--kubeconfig', kubeconfig, '-n', VAULT_CHART.namespace, '--values', values, '--wait', '--timeout', HELM_TIMEOUT],
    `Vault's pod was not ready in ${HELM_TIMEOUT}: check the network (its image is pulled) and Docker's resources`,
  );
  const pid = startDetached(ctx.dir, { name: 'vault-port-forward', command: 'kubectl', args: ['--kubeconfig', kubeconfig, 'port-forward', '-n', VAULT_CHART.namespace, `svc/${VAULT_CHART.release}`, `${ctx.vaultPort}:8200`, '--address', '127.0.0.1'], env });
  log(`up: Vault from its chart in kind, at 127.0.0.1:${ctx.vaultPort} (kubectl port-forward, pid ${pid}); KUBECONFIG=${kubeconfig}`);
}

function onPathIn(d: string, t: string): boolean {
  try {
    return statSync(join(d, t)).isFile();
  } catch {
    return false;
  }
}

/** Remove the lab's kind cluster and port-forward (idempotent); returns what it removed. */
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
