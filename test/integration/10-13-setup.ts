// Shared by the integration tests of steps 10-13 and teardown: a lab cluster of
// their own (registered with the lab issuer so tokens can be minted for it),
// unique IAM and Vault names, and the lab's shared Vault server role made to
// exist outside the runbook so no test's teardown ever deletes it.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateOpenIDConnectProviderCommand, CreateRoleCommand, GetOpenIDConnectProviderCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { lab, labConfig, labEnvVars } from '../helpers/lab.js';
import type { Config } from '../../lib/config.js';
import { serialize, vaultServerPolicy } from '../../lib/iam-documents.js';
import { readLabConfig } from '../../lab/lib/lab.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * For the tests on the lab's Kubernetes API (LAB_K8S=1): the lab's kubectl and helm
 * first on PATH, its kubeconfig and stand-in charts in the config, NAMESPACE=ns, and
 * no SA_TOKEN_COMMAND (step 12 runs `kubectl create token`).
 */
export function k8sVars(ns: string): Record<string, string> {
  const k8s = readLabConfig().k8s;
  if (!k8s) throw new Error('the running lab has no Kubernetes API: start it with LAB_K8S=1 lab/bin/up');
  process.env.PATH = `${path.join(lab().labDir, 'bin')}:${process.env.PATH}`;
  return { KUBECONFIG: k8s.kubeconfig, GLOO_HELM_CHART: path.join(root, 'lab', 'charts', 'gloo'), VAULT_HELM_CHART: path.join(root, 'lab', 'charts', 'vault'), NAMESPACE: ns, SA_TOKEN_COMMAND: '' };
}

export function iamClient(): IAMClient {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const l = lab();
  return new IAMClient({ region: l.region, endpoint: l.awsEndpoint, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey } });
}

/**
 * `CLUSTER_NAME=<name> lab/bin/up` on the running lab only adds the cluster (moto EKS + issuer).
 * Without LAB_K8S, LAB_VAULT_CLI and LAB_AWS_CLI (CI exports them): a running lab is reused as
 * it is either way, and without them up does not check those tools' installs (0.4 s of CPU a
 * call, and every file on the shared lab makes one while others run beside it).
 */
export function registerCluster(name: string): void {
  const env: NodeJS.ProcessEnv = { ...process.env, CLUSTER_NAME: name, LAB_MODE: 'process' };
  for (const k of ['LAB_K8S', 'LAB_VAULT_CLI', 'LAB_AWS_CLI']) delete env[k];
  execFileSync(path.join(root, 'lab', 'bin', 'up'), { env, stdio: 'pipe' });
}

/** The Vault server role of the lab (Vault's fixed AWS identity), created untagged if missing. */
export async function ensureVaultServerRole(): Promise<string> {
  const l = lab();
  const name = l.vaultServerRoleArn.split('/').pop()!;
  const iam = iamClient();
  try {
    await iam.send(new GetRoleCommand({ RoleName: name }));
  } catch {
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${l.accountId}:oidc-provider/lab` }, Action: 'sts:AssumeRoleWithWebIdentity' }] };
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) })).catch(() => undefined);
  }
  await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: name, PolicyDocument: serialize(vaultServerPolicy()) }));
  return name;
}

/**
 * moto gives every lab cluster the same OIDC issuer, so the IAM OIDC provider is shared
 * by every test file: make it exist before the runbook runs, so no test's state records
 * it as created and no teardown deletes it from under the others.
 */
export async function ensureSharedProvider(cluster: string): Promise<void> {
  const l = lab();
  const issuer = l.clusterIssuer(cluster);
  const arn = `arn:aws:iam::${l.accountId}:oidc-provider/${issuer.replace(/^https:\/\//, '')}`;
  const iam = iamClient();
  try {
    await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }));
  } catch {
    await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: ['sts.amazonaws.com'], ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'] })).catch(() => undefined);
  }
}

export interface TestSetup {
  id: string;
  config: Config;
  names: { cluster: string; auth: string; kv: string; policy: string; role: string; iamPolicy: string };
}

/** A configuration of its own for one test file (tag: t12, t13, tdn ...). */
export async function setup(tag: string, extra: Record<string, string> = {}): Promise<TestSetup> {
  const l = lab();
  const id = crypto.randomBytes(3).toString('hex');
  const cluster = `vir-${tag}`;
  registerCluster(cluster);
  await ensureSharedProvider(cluster);
  const serverRole = await ensureVaultServerRole();
  const names = { cluster, auth: `aws-${tag}-${id}`, kv: `kv-${tag}-${id}`, policy: `pol-${tag}-${id}`, role: `role-${tag}-${id}`, iamPolicy: `iampol-${tag}-${id}` };
  const config = labConfig({
    CLUSTER_NAME: cluster,
    VAULT_AUTH_MOUNT: names.auth,
    VAULT_KV_MOUNT: names.kv,
    VAULT_POLICY_NAME: names.policy,
    VAULT_AUTH_ROLE_NAME: names.role,
    VAULT_AUTH_POLICY_NAME: names.iamPolicy,
    VAULT_SERVER_ROLE_NAME: serverRole,
    VAULT_SERVER_POLICY_NAME: serverRole,
    GLOO_VALUES_FILE: path.join(path.dirname(labConfig().stateFile), `values-${tag}-${id}.yaml`),
    ...extra,
  });
  void l;
  return { id, config, names };
}

/** Vault's HTTP API with the lab's root token, as an operator would use it. */
export async function vapi(method: string, p: string, body?: unknown): Promise<Record<string, any> | undefined> {
  const l = lab();
  const res = await fetch(`${l.vaultAddr}/v1/${p}`, {
    method,
    headers: { 'X-Vault-Token': l.vaultToken, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as Record<string, any>) : undefined;
}

/** The environment a runbook script needs to act on this setup's names (spawned-process tests). */
export function nameVars(t: TestSetup): Record<string, string> {
  return {
    CLUSTER_NAME: t.names.cluster,
    VAULT_AUTH_MOUNT: t.names.auth,
    VAULT_KV_MOUNT: t.names.kv,
    VAULT_POLICY_NAME: t.names.policy,
    VAULT_AUTH_ROLE_NAME: t.names.role,
    VAULT_AUTH_POLICY_NAME: t.names.iamPolicy,
    VAULT_SERVER_ROLE_NAME: t.config.vaultServerRoleName,
    VAULT_SERVER_POLICY_NAME: t.config.vaultServerPolicyName,
    GLOO_VALUES_FILE: t.config.valuesFile,
    STATE_FILE: t.config.stateFile,
  };
}

/** A clean environment for a spawned runbook script: the lab, this setup's names, Vault at `vaultUrl`. */
export function scriptEnv(t: TestSetup, vaultUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...labEnvVars(), VAULT_ADDR: vaultUrl, ...nameVars(t), ...extra };
}
