// The runbook's view of the local lab (lab/bin/up): where its state lives, how to
// reach its servers, and the two things only a lab can do — mint service-account
// tokens for an emulated EKS cluster and switch moto's IAM enforcement at runtime.
//
// Layout of LAB_DIR (default <repo>/.lab), written by lab/bin/up:
//   lab.json                 ports, region, versions, the cluster Vault "runs in"
//   clusters/<name>.json     { name, issuer } as EKS DescribeCluster reported it
//   secrets/ (0700)          root-token, issuer-key.pem, aws-admin.json, sts-ca-key.pem
//   tokens/vault-vault.jwt   the Vault server's projected SA token (refreshed by the issuer)
//   pids/<service>.pid, logs/<service>.log
import { readFileSync, readdirSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, type JWK } from 'jose';
import { ownedPid, ownedPids } from './procs.js';
import { containerStates, dockerServicesFor } from './docker.js';
import { LAB_ACCOUNT_ID, MOTO_VERSION, VAULT_VERSION, type LabSettings } from './settings.js';

/** Where Vault, on the lab's Docker network, reaches the STS front (Docker mode's VAULT_AWS_ENDPOINT_URL). */
export const STS_FRONT_IN_NETWORK = 'http://sts-proxy:8182';

export const LAB_NOT_RUNNING = 'the lab is not running: run `make lab-up`';
export const SERVICES = ['moto', 'issuer', 'sts-proxy', 'vault'] as const;
export type Service = (typeof SERVICES)[number];
/** The Kubernetes part (LAB_K8S=1), in start order (lab/lib/k8s.ts k8sServices). */
export const K8S_SERVICES = ['etcd', 'kube-apiserver', 'irsa-webhook', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;

export class LabNotRunningError extends Error {
  constructor(detail?: string) {
    super(detail ? `${LAB_NOT_RUNNING} (${detail})` : LAB_NOT_RUNNING);
    this.name = 'LabNotRunningError';
  }
}

export interface LabConfig {
  mode: 'process' | 'docker';
  region: string;
  accountId: string;
  ports: { moto: number; vault: number; issuer: number; stsProxy: number };
  /** The cluster whose issuer signs the Vault server's own SA token. */
  vaultCluster: string;
  vaultServerRoleArn: string;
  vaultVersion: string;
  motoVersion: string;
  /** Docker mode with LOCALSTACK_AUTH_TOKEN: LocalStack in moto's place (same port setting, LAB_MOTO_PORT). */
  awsEmulator?: 'moto' | 'localstack';
  /** The vault binary the lab runs (on PATH, or the lab's build). */
  vaultBin?: string;
  /**
   * Docker mode with LAB_K8S=1: the kind cluster. Vault is not the lab's then: step 04 installs
   * it from its chart, and VAULT_ADDR (LAB_VAULT_PORT) answers only through a port-forward.
   */
  kind?: { cluster: string; kubeconfig: string };
  /** Present when the lab runs its Kubernetes API (LAB_K8S=1). */
  k8s?: {
    ports: { etcd: number; etcdPeer: number; apiserver: number; webhook: number; kwok: number };
    /** The cluster whose issuer the API server's service-account tokens carry. */
    cluster: string;
    kubeconfig: string;
    /** The pinned tools it runs (lab/lib/k8s-install.ts K8sBins). */
    bins: Record<string, string>;
  };
}

export interface LabEnv {
  labDir: string;
  awsEndpoint: string;
  region: string;
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  vaultAddr: string;
  vaultToken: string;
  /** Loopback server that serves the clusters' discovery documents and JWKS. */
  issuerUrl: string;
  /**
   * The lab's STS front (lab/lib/servers.ts) as Vault reaches it: the HTTPS proxy for its
   * STS calls and VAULT_AWS_ENDPOINT_URL. Process mode: 127.0.0.1; Docker mode: its name
   * on the lab's network (http://sts-proxy:8182).
   */
  stsProxyUrl: string;
  vaultCluster: string;
  vaultServerRoleArn: string;
  clusters: Record<string, string>;
  /** LAB_DIR/kubeconfig when the lab runs a Kubernetes API (LAB_K8S=1: its own, or kind in Docker mode). */
  kubeconfig?: string;
  /** The lab's stand-in charts go with its own API server (process mode); kind gets the real ones. */
  labCharts?: boolean;
  /** The `https://oidc.eks.<region>.amazonaws.com/id/<ID>` issuer of a lab cluster. */
  clusterIssuer(cluster?: string): string;
}

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** LAB_DIR wins so a second lab (tests) can live beside the first. */
export function labDir(): string {
  return resolve(process.env.LAB_DIR ?? join(repoRoot, '.lab'));
}

export function readLabConfig(dir = labDir()): LabConfig {
  const file = join(dir, 'lab.json');
  if (!existsSync(file)) throw new LabNotRunningError(`no ${file}`);
  return JSON.parse(readFileSync(file, 'utf8')) as LabConfig;
}

/** Clusters created in moto by lab/bin/up, name → issuer URL. */
export function readClusters(dir = labDir()): Record<string, string> {
  const cdir = join(dir, 'clusters');
  const out: Record<string, string> = {};
  if (!existsSync(cdir)) return out;
  for (const f of readdirSync(cdir).filter((n) => n.endsWith('.json'))) {
    const c = JSON.parse(readFileSync(join(cdir, f), 'utf8')) as { name: string; issuer: string };
    out[c.name] = c.issuer;
  }
  return out;
}

/** Pid of a lab service if its process is alive and still the program the lab started. */
export function servicePid(service: Service, dir = labDir()): number | undefined {
  return ownedPid(dir, service);
}

/**
 * Everything a client needs to use the running lab. Throws LabNotRunningError
 * (message: "the lab is not running: run `make lab-up`") unless every service
 * process recorded by lab/bin/up is alive — a half-up lab is not up.
 */
export function readLabEnv(dir = labDir()): LabEnv {
  const cfg = readLabConfig(dir);
  const docker = cfg.mode === 'docker';
  // Docker mode: the issuer is a process, the rest are containers (lab/lib/docker-lab.ts).
  const all = docker ? ['issuer'] : [...SERVICES, ...(cfg.k8s ? K8S_SERVICES : [])];
  const pids = ownedPids(dir, all);
  const dead = all.filter((s) => pids.get(s) === undefined);
  if (docker) {
    const states = containerStates(dir);
    dead.push(...dockerServicesFor(!!cfg.kind).filter((s) => states.get(s) !== 'running').map((s) => `${s} (container)`));
  }
  if (dead.length) throw new LabNotRunningError(`not running: ${dead.join(', ')}`);
  const admin = JSON.parse(readFileSync(join(dir, 'secrets', 'aws-admin.json'), 'utf8')) as {
    accessKeyId: string;
    secretAccessKey: string;
  };
  const clusters = readClusters(dir);
  return {
    labDir: dir,
    awsEndpoint: `http://127.0.0.1:${cfg.ports.moto}`,
    region: cfg.region,
    accountId: cfg.accountId,
    accessKeyId: admin.accessKeyId,
    secretAccessKey: admin.secretAccessKey,
    // kind: nothing listens here (step 04 installs Vault, then the runner port-forwards to vault-0).
    vaultAddr: `http://127.0.0.1:${cfg.ports.vault}`,
    vaultToken: readFileSync(join(dir, 'secrets', 'root-token'), 'utf8').trim(),
    issuerUrl: `http://127.0.0.1:${cfg.ports.issuer}`,
    // Where Vault reaches the front: on the host, or by its name on the lab's Docker network.
    stsProxyUrl: docker ? STS_FRONT_IN_NETWORK : `http://127.0.0.1:${cfg.ports.stsProxy}`,
    vaultCluster: cfg.vaultCluster,
    vaultServerRoleArn: cfg.vaultServerRoleArn,
    clusters,
    ...(cfg.k8s ? { kubeconfig: cfg.k8s.kubeconfig, labCharts: true } : cfg.kind ? { kubeconfig: cfg.kind.kubeconfig, labCharts: false } : {}),
    clusterIssuer(cluster = cfg.vaultCluster) {
      const iss = clusters[cluster];
      if (!iss) throw new Error(`cluster "${cluster}" is not in the lab: run \`CLUSTER_NAME=${cluster} make lab-up\``);
      return iss;
    },
  };
}

// ---- signing key -------------------------------------------------------------
// One RSA key per lab plays the part of every lab cluster's service-account
// signer. Its `kid` is computed as kube-apiserver computes it (base64url of the
// SHA-256 of the public key's PKIX DER, pkg/serviceaccount keyIDFromPublicKey):
// the lab's Kubernetes API signs with this same key, and a JWKS lookup by kid
// must find the key for its tokens too.

export function issuerPrivateKey(dir = labDir()): KeyObject {
  const file = join(dir, 'secrets', 'issuer-key.pem');
  if (!existsSync(file)) throw new LabNotRunningError(`no signing key ${file}`);
  return createPrivateKey(readFileSync(file));
}

/** The key's `kid`, as kube-apiserver computes it. */
function issuerKeyId(pub: KeyObject): string {
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64url');
}

export async function issuerJwks(dir = labDir()): Promise<{ keys: JWK[] }> {
  const pub = createPublicKey(issuerPrivateKey(dir));
  const jwk = await exportJWK(pub);
  return { keys: [{ ...jwk, kid: issuerKeyId(pub), use: 'sig', alg: 'RS256' }] };
}

export interface MintOptions {
  /** Lab cluster whose issuer goes into `iss` (default: the one Vault runs in). */
  cluster?: string;
  audience?: string;
  ttlSeconds?: number;
  dir?: string;
}

/**
 * A JWT shaped like a projected service-account token for IRSA
 * (aud sts.amazonaws.com, sub system:serviceaccount:<ns>:<sa>, RS256, kid from
 * the JWKS). Reads only files, so it also works while the servers are starting.
 */
export async function mintServiceAccountToken(ns: string, sa: string, opts: MintOptions = {}): Promise<string> {
  const dns1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  if (!dns1123.test(ns) || ns.length > 63) throw new Error(`"${ns}" is not a valid namespace name`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(sa) || sa.length > 253)
    throw new Error(`"${sa}" is not a valid service account name`);
  const dir = opts.dir ?? labDir();
  const cfg = readLabConfig(dir);
  const cluster = opts.cluster ?? cfg.vaultCluster;
  const iss = readClusters(dir)[cluster];
  if (!iss) throw new Error(`cluster "${cluster}" is not in the lab: run \`CLUSTER_NAME=${cluster} make lab-up\``);
  const key = issuerPrivateKey(dir);
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', kid: issuerKeyId(createPublicKey(key)), typ: 'JWT' };
  const claims = {
    'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: randomUUID() } },
    iss,
    sub: `system:serviceaccount:${ns}:${sa}`,
    aud: opts.audience ?? 'sts.amazonaws.com',
    iat: now,
    nbf: now,
    exp: now + (opts.ttlSeconds ?? 3600),
  };
  // A JWS in compact form, RS256 (RSASSA-PKCS1-v1_5 with SHA-256: node:crypto's default
  // padding for an RSA key). Signed with node:crypto rather than jose, whose Web Crypto
  // path loads Node's webcrypto at every lab/bin/sa-token (every step-12 run): 30 ms.
  // The tests verify these tokens with jose against the issuer's JWKS.
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

// ---- moto IAM enforcement ----------------------------------------------------
// moto checks signatures and identity policies only once it has served
// INITIAL_NO_AUTH_ACTION_COUNT requests; `POST /moto-api/reset-auth <n>` sets that
// count and restarts the counter, so "0" enforces from the next request on and
// "inf" switches checks off. With checks on, a caller must be a real moto
// principal (the lab's `lab-admin` user, or an assumed role whose attached and
// inline policies are evaluated) — which is how the guide's
// "not authorized to perform: iam:GetRole" deny is reproduced.

/** Returns the previous count (Infinity = checks were off) and whether checks were on. */
export async function setMotoEnforcement(on: boolean, env: Pick<LabEnv, 'awsEndpoint'> = readLabEnv()): Promise<{ previous: number; wasOn: boolean }> {
  return resetMotoAuth(on ? 0 : Infinity, env);
}

/** Low level: enforce after `count` more requests (Infinity = never). */
export async function resetMotoAuth(count: number, env: Pick<LabEnv, 'awsEndpoint'> = readLabEnv()): Promise<{ previous: number; wasOn: boolean }> {
  const res = await fetch(`${env.awsEndpoint}/moto-api/reset-auth`, { method: 'POST', body: Number.isFinite(count) ? String(count) : 'inf' });
  if (!res.ok) throw new Error(`moto refused reset-auth: HTTP ${res.status} ${await res.text()}`);
  const raw = ((await res.json()) as { PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT: string }).PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT;
  const previous = /^inf/i.test(raw) ? Infinity : Number(raw); // Python prints float('inf') as "inf"
  return { previous, wasOn: Number.isFinite(previous) };
}

export interface AssumedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  arn: string;
}

/**
 * AssumeRoleWithWebIdentity against moto with a lab SA token — what a pod's SDK does
 * with AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE. AWS accepts this call unsigned, but
 * moto (while enforcing) rejects unsigned requests with HTTP 500, so it is signed with
 * the lab-admin keys, as the lab's STS proxy does for the Vault process. Use it to see
 * moto's full AccessDenied text for a role (aws-sdk-go v1, i.e. Vault, cannot parse
 * moto's auth-error envelope and shows only "status code: 403").
 */
export async function assumeRoleWithWebIdentity(roleArn: string, webIdentityToken: string, sessionName = 'lab', env: LabEnv = readLabEnv()): Promise<AssumedCredentials> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@aws-crypto/sha256-js');
  const url = new URL(env.awsEndpoint);
  const body = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: roleArn,
    RoleSessionName: sessionName,
    WebIdentityToken: webIdentityToken,
  }).toString();
  const signer = new SignatureV4({ service: 'sts', region: env.region, sha256: Sha256, credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey } });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const res = await fetch(env.awsEndpoint + '/', { method: 'POST', headers: signed.headers, body });
  const xml = await res.text();
  const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(xml)?.[1];
  if (!res.ok || !tag('AccessKeyId')) throw new Error(`AssumeRoleWithWebIdentity ${roleArn} failed: HTTP ${res.status} ${tag('Message') ?? xml.slice(0, 200)}`);
  return { accessKeyId: tag('AccessKeyId')!, secretAccessKey: tag('SecretAccessKey')!, sessionToken: tag('SessionToken')!, arn: tag('Arn')! };
}

/**
 * IAM checks for the Vault server's AWS calls only: while LAB_DIR/enforce-vault exists,
 * the STS proxy (lab/lib/servers.ts) switches moto's checks on around each call it
 * carries for Vault. Everything else keeps moto's global setting, so the runbook's
 * unsigned AssumeRoleWithWebIdentity is not refused for a lab reason (moto, once
 * enforcing, rejects every unsigned request; AWS serves this one unsigned).
 */
export function vaultEnforcementFile(dir = labDir()): string {
  return join(dir, 'enforce-vault');
}

export function setVaultEnforcement(on: boolean, dir = labDir()): void {
  if (on) writeFileSync(vaultEnforcementFile(dir), 'IAM checks on for the Vault server (lab/lib/servers.ts)\n');
  else rmSync(vaultEnforcementFile(dir), { force: true });
}

/** Runs fn with moto enforcement on (or off) and restores the previous setting. */
export async function withMotoEnforcement<T>(on: boolean, fn: () => Promise<T>, env: Pick<LabEnv, 'awsEndpoint'> = readLabEnv()): Promise<T> {
  const { previous } = await setMotoEnforcement(on, env);
  try {
    return await fn();
  } finally {
    await resetMotoAuth(previous, env);
  }
}

/** What every lab records, either mode: the cluster and names asked for now, the pinned versions, the ports. */
export function labRecordBase(st: Pick<LabSettings, 'region' | 'cluster' | 'vaultServerRoleName' | 'ports'>, mode: LabConfig['mode']): LabConfig {
  return {
    mode,
    region: st.region,
    accountId: LAB_ACCOUNT_ID,
    vaultCluster: st.cluster,
    vaultServerRoleArn: `arn:aws:iam::${LAB_ACCOUNT_ID}:role/${st.vaultServerRoleName}`,
    vaultVersion: VAULT_VERSION,
    motoVersion: MOTO_VERSION,
    ports: st.ports,
  };
}

/**
 * A fresh start is a new lab for the cluster asked for now: its record is written, and nothing
 * of an earlier lab's files may carry that lab's names over (cluster records, admin keys, a
 * workshop scenario, IAM checks for Vault). `extra`: more files of the old lab to drop.
 */
export function writeFreshLabRecord(dir: string, cfg: LabConfig, extra: string[] = []): void {
  writeFileSync(join(dir, 'lab.json'), JSON.stringify(cfg, null, 2) + '\n');
  for (const f of readdirSync(join(dir, 'clusters'))) rmSync(join(dir, 'clusters', f), { force: true });
  for (const f of ['secrets/aws-admin.json', 'scenario.json', 'enforce-vault', ...extra]) rmSync(join(dir, f), { force: true });
}
