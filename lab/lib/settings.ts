// The lab's settings, read once from the environment. Every value can be
// overridden, so a second lab (tests, a workshop participant) can run beside the
// first with its own LAB_DIR and ports. The user's values always win: nothing
// here is read back from an earlier lab's files.
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LAB_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Pinned tool versions: one place. */
export const MOTO_VERSION = '5.2.5';
export const VAULT_VERSION = '1.21.4';
/** LocalStack Pro, Docker mode's AWS emulator when LOCALSTACK_AUTH_TOKEN is set (its EKS API is a paid feature). Not pulled or run here. */
export const LOCALSTACK_VERSION = '4.10.0';
/**
 * Docker mode's pinned upstream images and chart (users with internet get these;
 * `lab/bin/images` builds local stand-ins from the process lab's own tools, and
 * LAB_IMAGES=local or LAB_<NAME>_IMAGE picks other images).
 */
export const UPSTREAM_IMAGES = {
  moto: `motoserver/moto:${MOTO_VERSION}`,
  vault: `hashicorp/vault:${VAULT_VERSION}`,
  /** Runs the lab's STS front (lab/lib/servers.ts, bundled) on the lab's Docker network. */
  node: 'node:20.20.2-alpine',
  /** The AWS emulator instead of moto when LOCALSTACK_AUTH_TOKEN is set (Docker mode). */
  localstack: `localstack/localstack-pro:${LOCALSTACK_VERSION}`,
  /** kind's node image for LAB_MODE=docker LAB_K8S=1 (lab/kind.yaml names the same). */
  kindNode: 'kindest/node:v1.31.2',
} as const;
export type LabImage = 'moto' | 'vault' | 'node' | 'localstack';
/** moto's fixed default account. */
export const LAB_ACCOUNT_ID = '123456789012';
export const DEFAULT_CLUSTER = 'gloo-ee-vault-integration';
export const DEFAULT_REGION = 'us-east-1';

export interface LabPorts {
  moto: number;
  vault: number;
  issuer: number;
  stsProxy: number;
}

/** Ports of the lab's Kubernetes API (LAB_K8S=1); apart from the AWS and Vault ports. */
export interface LabK8sPorts {
  etcd: number;
  etcdPeer: number;
  apiserver: number;
  webhook: number;
  kwok: number;
}

export interface LabSettings {
  root: string;
  dir: string;
  cache: string;
  stateDir: string;
  ports: LabPorts;
  /** The cluster asked for: CLUSTER_NAME, else the default. */
  cluster: string;
  /** True when CLUSTER_NAME came from the user's environment. */
  clusterFromUser: boolean;
  region: string;
  regionFromUser: boolean;
  vaultServerRoleName: string;
  mode: string | undefined;
  /** LAB_VAULT_CLI=1: also build the full vault binary, for the CLI (workshops, the pasted reference). */
  vaultCli: boolean;
  /** LAB_K8S=1: also run a Kubernetes API (etcd, kube-apiserver, IRSA webhook, controllers, kwok) and Helm. */
  k8s: boolean;
  k8sPorts: LabK8sPorts;
  /** LAB_AWS_CLI=1: also install the aws CLI (v1, pip), for the pasted reference. */
  awsCli: boolean;
  /** Docker mode: LAB_IMAGES=local uses the images `lab/bin/images` builds; upstream (default) pulls the pinned ones. */
  images: 'upstream' | 'local';
  /** Docker mode: an image named by LAB_MOTO_IMAGE, LAB_VAULT_IMAGE, LAB_NODE_IMAGE or LAB_LOCALSTACK_IMAGE (wins over LAB_IMAGES). */
  imageOverrides: Partial<Record<LabImage, string>>;
  /** Docker mode's AWS emulator: LocalStack when LOCALSTACK_AUTH_TOKEN is set (the token itself is never kept here), else moto. */
  awsEmulator: AwsEmulator;
}

export type AwsEmulator = 'moto' | 'localstack';

/** An expected problem: printed as one sentence, exit 1. */
export class LabError extends Error {
  override name = 'LabError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function port(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n <= 0 || n >= 65536) throw new LabError(`${name}=${raw} is not a TCP port number: use a number from 1 to 65535`);
  return n;
}

export function labCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAB_CACHE) return resolve(env.LAB_CACHE);
  const base = env.XDG_CACHE_HOME || join(os.homedir(), '.cache');
  return join(base, 'vault-irsa-runbook');
}

/** LAB_K8S=1 (or true): the lab also runs its Kubernetes API. */
export function labK8sOn(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.LAB_K8S ?? '';
  if (v === '1' || v === 'true') return true;
  if (v === '' || v === '0' || v === 'false') return false;
  throw new LabError(`LAB_K8S=${v} is neither 1 nor 0: set LAB_K8S=1 to run the lab's Kubernetes API, or unset it`);
}

/** The environment variable behind each Kubernetes port, for messages. */
export const K8S_PORT_VARS: Record<keyof LabK8sPorts, string> = {
  etcd: 'LAB_K8S_ETCD_PORT',
  etcdPeer: 'LAB_K8S_ETCD_PEER_PORT',
  apiserver: 'LAB_K8S_APISERVER_PORT',
  webhook: 'LAB_K8S_WEBHOOK_PORT',
  kwok: 'LAB_K8S_KWOK_PORT',
};

export function readSettings(env: NodeJS.ProcessEnv = process.env): LabSettings {
  const cluster = env.CLUSTER_NAME || DEFAULT_CLUSTER;
  const region = env.AWS_REGION || DEFAULT_REGION;
  if (!/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/.test(cluster))
    throw new LabError(`CLUSTER_NAME=${cluster} is not a valid EKS cluster name: use letters, digits, - and _ (at most 100, starting with a letter or digit)`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new LabError(`AWS_REGION=${region} does not look like an AWS region (e.g. us-east-1)`);
  const vaultServerRoleName = env.VAULT_SERVER_ROLE_NAME || `vault-server-${cluster}`;
  if (vaultServerRoleName.length > 64)
    throw new LabError(`VAULT_SERVER_ROLE_NAME=${vaultServerRoleName} is longer than IAM's 64 characters: set a shorter VAULT_SERVER_ROLE_NAME or CLUSTER_NAME`);
  const mode = env.LAB_MODE || undefined;
  if (mode && mode !== 'process' && mode !== 'docker') throw new LabError(`LAB_MODE=${mode} is neither process nor docker: unset it for the process lab`);
  const dir = resolve(env.LAB_DIR || join(LAB_ROOT, '.lab'));
  return {
    root: LAB_ROOT,
    dir,
    cache: labCacheDir(env),
    stateDir: resolve(env.LAB_STATE_DIR || join(LAB_ROOT, '.state')),
    ports: {
      moto: port(env, 'LAB_MOTO_PORT', 4566),
      vault: port(env, 'LAB_VAULT_PORT', 8200),
      issuer: port(env, 'LAB_ISSUER_PORT', 8181),
      stsProxy: port(env, 'LAB_STS_PROXY_PORT', 8182),
    },
    cluster,
    clusterFromUser: !!env.CLUSTER_NAME,
    region,
    regionFromUser: !!env.AWS_REGION,
    vaultServerRoleName,
    mode,
    vaultCli: env.LAB_VAULT_CLI === '1' || env.LAB_VAULT_CLI === 'true',
    k8s: labK8sOn(env),
    k8sPorts: {
      etcd: port(env, 'LAB_K8S_ETCD_PORT', 8379),
      etcdPeer: port(env, 'LAB_K8S_ETCD_PEER_PORT', 8380),
      apiserver: port(env, 'LAB_K8S_APISERVER_PORT', 8443),
      webhook: port(env, 'LAB_K8S_WEBHOOK_PORT', 8444),
      kwok: port(env, 'LAB_K8S_KWOK_PORT', 8445),
    },
    awsCli: env.LAB_AWS_CLI === '1' || env.LAB_AWS_CLI === 'true',
    images: labImagesSetting(env),
    imageOverrides: imageOverrides(env),
    awsEmulator: env.LOCALSTACK_AUTH_TOKEN ? 'localstack' : 'moto',
  };
}

function labImagesSetting(env: NodeJS.ProcessEnv): 'upstream' | 'local' {
  const v = env.LAB_IMAGES ?? '';
  if (v === '' || v === 'upstream') return 'upstream';
  if (v === 'local') return 'local';
  throw new LabError(`LAB_IMAGES=${v} is neither local nor upstream: unset it for the pinned upstream images, or set LAB_IMAGES=local for the ones lab/bin/images builds`);
}

/** The environment variable behind each Docker-mode image. */
export const IMAGE_VARS: Record<LabImage, string> = { moto: 'LAB_MOTO_IMAGE', vault: 'LAB_VAULT_IMAGE', node: 'LAB_NODE_IMAGE', localstack: 'LAB_LOCALSTACK_IMAGE' };

function imageOverrides(env: NodeJS.ProcessEnv): Partial<Record<LabImage, string>> {
  const out: Partial<Record<LabImage, string>> = {};
  for (const [k, v] of Object.entries(IMAGE_VARS) as [LabImage, string][]) {
    const raw = env[v];
    if (!raw) continue;
    // Docker's reference grammar, loosely: [registry/]name[:tag][@digest], no spaces or options.
    if (!/^[a-z0-9][a-z0-9._\/:@-]*$/i.test(raw) || raw.startsWith('-')) throw new LabError(`${v}=${raw} is not a Docker image name: use e.g. ${UPSTREAM_IMAGES[k]}`);
    out[k] = raw;
  }
  return out;
}

/** Bad input to a lab command (unknown scenario or seat, malformed file, wrong option): one sentence, exit 2. */
export class LabInputError extends LabError {
  override name = 'LabInputError';
  readonly exitCode = 2;
}

/** Wall time since t0 as `1.2s`, from Node's clock (no `date +%N`, which BSD date lacks). */
export function elapsed(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)}s`;
}
