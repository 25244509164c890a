// Configuration comes from the environment (standard AWS/Vault/Kubernetes
// names first) and an optional .env file. Every value is checked before any
// call is made, and every problem is reported at once.
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { ConfigError } from './errors.js';
import { addSecret } from './redact.js';

export type Edition = 'oss' | 'enterprise';
export type VaultServerIdentity = 'role' | 'node';

export interface Config {
  region: string;
  partition: 'aws' | 'aws-cn' | 'aws-us-gov';
  profile: string | undefined;
  awsEndpoint: string | undefined;
  awsMaxAttempts: number;
  clusterName: string;
  namespace: string;
  serviceAccounts: string[];
  oidcIssuer: string | undefined;
  roleName: string;
  /** VAULT_AUTH_ROLE_ARN as the guide exports it; checked against the live account in step 02. */
  givenRoleArn: string | undefined;
  policyName: string;
  vaultServerIdentity: VaultServerIdentity;
  vaultServerRoleName: string;
  vaultServerPolicyName: string;
  vaultK8sNamespace: string;
  vaultServiceAccount: string;
  iamServerIdHeader: string;
  vaultAddr: string;
  vaultToken: string | undefined;
  vaultAddressForGloo: string;
  vaultAwsEndpoint: string | undefined;
  kvMount: string;
  vaultPolicyName: string;
  authMount: string;
  rootKey: string;
  edgeVersion: string;
  edition: Edition;
  /** GLOO_LICENSE_KEY: the gloo-ee chart's license_key (a secret; required for enterprise). */
  licenseKey: string | undefined;
  valuesFile: string;
  stateFile: string;
  kubeconfig: string | undefined;
  /** Program printing a web-identity token: `<command> <namespace> <sa>`; unset: kubectl create token. */
  saTokenCommand: string | undefined;
  /** Chart step 04 installs: `<repo>/<chart>` or a local chart directory. */
  vaultHelmChart: string;
  /** Chart step 11 installs (and step 10 renders): `<repo>/<chart>` or a local chart directory. */
  glooHelmChart: string;
}

/** The variables, their defaults and what they mean: the source of .env.example and the README table. */
export const VARIABLES: { name: string; default: string; doc: string }[] = [
  { name: 'AWS_REGION', default: 'us-east-1', doc: 'AWS region of the cluster (required; the default is only a suggestion in .env.example)' },
  { name: 'AWS_PROFILE', default: '', doc: 'named AWS profile; unset uses the standard credential chain' },
  { name: 'AWS_ENDPOINT_URL', default: '', doc: 'AWS endpoint override (the lab sets it to its emulator)' },
  { name: 'AWS_MAX_ATTEMPTS', default: '5', doc: 'attempts per AWS call, with the SDK standard retry backoff' },
  { name: 'CLUSTER_NAME', default: 'gloo-ee-vault-integration', doc: 'EKS cluster name' },
  { name: 'NAMESPACE', default: 'gloo-system', doc: 'namespace Gloo Edge runs in' },
  { name: 'GLOO_SERVICE_ACCOUNTS', default: 'gloo,discovery', doc: 'service accounts the IAM role trusts (comma-separated)' },
  { name: 'OIDC_ISSUER', default: '', doc: 'issuer URL for clusters that are not EKS (kind, self-managed); EKS reads it from DescribeCluster' },
  { name: 'VAULT_AUTH_ROLE_NAME', default: 'dev-role-iam-${CLUSTER_NAME}', doc: 'IAM role for Gloo and, lower-cased, the Vault AWS auth role' },
  { name: 'VAULT_AUTH_ROLE_ARN', default: '', doc: 'optional: the role ARN if you already know it; must match the account and VAULT_AUTH_ROLE_NAME' },
  { name: 'VAULT_AUTH_POLICY_NAME', default: 'gloo-vault-auth-policy-${CLUSTER_NAME}', doc: 'IAM policy attached to that role' },
  { name: 'VAULT_SERVER_IDENTITY', default: 'role', doc: '`role`: the Vault server gets its own IRSA role (the fix); `node`: the guide as written' },
  { name: 'VAULT_SERVER_ROLE_NAME', default: 'vault-server-${CLUSTER_NAME}', doc: 'IAM role for the Vault server (iam:GetRole, iam:GetUser)' },
  { name: 'VAULT_SERVER_POLICY_NAME', default: 'vault-server-${CLUSTER_NAME}', doc: 'inline policy name on the Vault server role' },
  { name: 'VAULT_K8S_NAMESPACE', default: 'vault', doc: 'namespace of the Vault server' },
  { name: 'VAULT_SERVICE_ACCOUNT', default: 'vault', doc: 'service account of the Vault server (trusted by its IAM role; set as the Vault chart\'s server.serviceAccount.name)' },
  { name: 'IAM_SERVER_ID_HEADER_VALUE', default: 'vault.gloo.example.com', doc: 'X-Vault-AWS-IAM-Server-ID value Vault requires on logins' },
  { name: 'VAULT_ADDR', default: 'http://127.0.0.1:8200', doc: 'where the runbook reaches Vault' },
  { name: 'VAULT_TOKEN', default: '', doc: 'Vault token for steps 05-09 (secret; never printed)' },
  { name: 'VAULT_ADDRESS', default: 'http://vault-internal.${VAULT_K8S_NAMESPACE}:8200', doc: 'where Gloo reaches Vault (goes into the Helm values); the default is the Vault chart\'s service in VAULT_K8S_NAMESPACE' },
  { name: 'VAULT_AWS_ENDPOINT_URL', default: '${AWS_ENDPOINT_URL}', doc: 'AWS endpoint as the Vault server reaches it (emulators only)' },
  { name: 'VAULT_KV_MOUNT', default: 'dev', doc: 'KV v2 mount Gloo reads (its pathPrefix)' },
  { name: 'VAULT_POLICY_NAME', default: 'dev', doc: 'Vault policy bound to the AWS auth role' },
  { name: 'VAULT_AUTH_MOUNT', default: 'aws', doc: 'mount path of the AWS auth method' },
  { name: 'GLOO_ROOT_KEY', default: 'gloo', doc: 'Gloo rootKey under the KV mount' },
  { name: 'EDGE_VERSION', default: 'v1.16.x', doc: 'Gloo Edge chart version, at least the first with Vault token renewal: 1.15.19, 1.16.0 (v1.16.x: Helm picks the newest 1.16 patch, all have it) or 1.17.0-beta2' },
  { name: 'GLOO_EDITION', default: 'oss', doc: '`oss` (chart gloo/gloo) or `enterprise` (values nested under gloo:)' },
  { name: 'GLOO_LICENSE_KEY', default: '', doc: 'Gloo Edge Enterprise license key, required when GLOO_EDITION=enterprise (goes into the gloo-ee values as license_key; secret; never printed)' },
  { name: 'GLOO_VALUES_FILE', default: '.state/helm-overrides-${CLUSTER_NAME}.yaml', doc: 'where step 10 writes the Helm overrides' },
  { name: 'STATE_FILE', default: '.state/state.json', doc: 'where step outputs are kept (0600, no secrets)' },
  { name: 'KUBECONFIG', default: '', doc: 'kubeconfig for steps 04 and 11' },
  { name: 'VAULT_HELM_CHART', default: 'hashicorp/vault', doc: 'chart step 04 installs: `<repo>/<chart>` (hashicorp is added from its URL) or a local chart directory (no `helm repo add`; the lab points it at lab/charts/vault)' },
  { name: 'GLOO_HELM_CHART', default: '', doc: 'chart steps 10 and 11 use; unset: `gloo/gloo` (oss) or `glooe/gloo-ee` (enterprise); a local chart directory means no `helm repo add` (the lab points it at lab/charts/gloo)' },
  { name: 'SA_TOKEN_COMMAND', default: '', doc: 'program that prints a service-account token for step 12, run as `<command> <namespace> <serviceaccount>` with CLUSTER_NAME set; unset: `kubectl create token` (the lab sets it to lab/bin/sa-token)' },
];

const REGION_RE = /^(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d{1,2}$/;
const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const IAM_NAME = /^[\w+=,.@-]+$/;
const CLUSTER_RE = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

export function partitionOf(region: string): Config['partition'] {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * The first release of each line where Gloo renews its Vault token and logs in again
 * (found in solo-io/gloo's changelog: v1.15.19/vault-auth-renewal.yaml,
 * v1.16.0-rc3/vault-token-renewal.yaml, v1.17.0-beta2/vault-token-renewal.yaml). Without
 * renewal Gloo loses Vault access when the token's 24h max TTL ends. Keyless IRSA
 * (PR #8533: 1.15.3, 1.16.0-beta7) is older, so renewal is the binding minimum.
 */
export const EDGE_RENEWAL_MINIMUM: Record<string, string> = { '1.15': '1.15.19', '1.16': '1.16.0-rc3', '1.17': '1.17.0-beta2' };

/** Pure: prerelease order for beta/rc tags (beta < rc < release). */
function preRank(pre: string | undefined): number | undefined {
  if (!pre) return Infinity;
  const m = /^(beta|rc)(\d+)$/.exec(pre);
  if (!m) return undefined;
  return (m[1] === 'rc' ? 1000 : 0) + Number(m[2]);
}

/**
 * Pure: why EDGE_VERSION cannot be used, or undefined. A patch of `x` means the newest
 * release of that minor (what Helm picks for --version 1.16.x): accepted when that line
 * has renewal at all, and the minimum patch is then in the docs and this message.
 */
export function edgeVersionProblem(v: string): string | undefined {
  const m = /^v?(\d+)\.(\d+)\.(x|\*|\d+)(?:-(.+))?$/.exec(v);
  if (!m) return `EDGE_VERSION "${v}" is not a version like v1.16.0 or v1.16.x`;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const patch = m[3] === 'x' || m[3] === '*' ? Infinity : Number(m[3]);
  const pre = m[4];
  const tooOld = `EDGE_VERSION ${v} has no Vault token renewal, so Gloo would lose Vault access when its token's 24h max TTL ends: set EDGE_VERSION to v1.16.x (renewal arrived in v1.15.19, v1.16.0 and v1.17.0-beta2)`;
  if (major !== 1) return major > 1 ? undefined : tooOld;
  if (minor < 15) return tooOld;
  if (minor >= 18) return undefined;
  const [, minPatchText, minPre] = /^\d+\.\d+\.(\d+)(?:-(.+))?$/.exec(EDGE_RENEWAL_MINIMUM[`1.${minor}`]!)!;
  const minPatch = Number(minPatchText);
  if (patch !== minPatch) return patch > minPatch ? undefined : tooOld;
  const rank = preRank(pre);
  if (rank === undefined) return tooOld;
  return rank >= preRank(minPre)! ? undefined : tooOld;
}

function checkUrl(name: string, value: string | undefined, problems: string[], opts: { https?: boolean } = {}): void {
  if (!value) return;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    problems.push(`${name} "${value}" is not a URL: use a full address such as ${opts.https ? 'https://oidc.example.com/id/ABC' : 'http://127.0.0.1:8200'}`);
    return;
  }
  if (opts.https && u.protocol !== 'https:') problems.push(`${name} "${value}" must be an https:// URL (AWS only accepts https issuers)`);
  else if (!['http:', 'https:'].includes(u.protocol)) problems.push(`${name} "${value}" must start with http:// or https://`);
}

/** Read a .env file if present; the environment wins over the file. */
export function readDotEnv(file = path.resolve('.env')): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  return util.parseEnv(fs.readFileSync(file, 'utf8')) as Record<string, string>;
}

/** Pure: validate and derive the configuration from an environment. */
export function parseConfig(env: Record<string, string | undefined>): { config: Config; problems: string[] } {
  const problems: string[] = [];
  const get = (k: string): string | undefined => {
    const v = env[k];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const region = get('AWS_REGION') ?? get('AWS_DEFAULT_REGION') ?? '';
  if (!region) problems.push('AWS_REGION is not set: export AWS_REGION=us-east-1 (or the region of your cluster)');
  else if (!REGION_RE.test(region)) problems.push(`AWS_REGION "${region}" is not an AWS region: use a name like us-east-1 or eu-west-2`);

  const clusterName = get('CLUSTER_NAME') ?? 'gloo-ee-vault-integration';
  if (!CLUSTER_RE.test(clusterName)) problems.push(`CLUSTER_NAME "${clusterName}" is not a valid EKS cluster name: use letters, digits, - and _ (at most 100, starting with a letter or digit)`);

  const namespace = get('NAMESPACE') ?? 'gloo-system';
  if (!DNS1123_LABEL.test(namespace)) problems.push(`NAMESPACE "${namespace}" is not a valid Kubernetes namespace: use lower-case letters, digits and - (DNS-1123, at most 63)`);
  const vaultK8sNamespace = get('VAULT_K8S_NAMESPACE') ?? 'vault';
  if (!DNS1123_LABEL.test(vaultK8sNamespace)) problems.push(`VAULT_K8S_NAMESPACE "${vaultK8sNamespace}" is not a valid Kubernetes namespace: use lower-case letters, digits and - (DNS-1123)`);

  const serviceAccounts = (get('GLOO_SERVICE_ACCOUNTS') ?? 'gloo,discovery').split(',').map((s) => s.trim()).filter(Boolean);
  if (serviceAccounts.length === 0) problems.push('GLOO_SERVICE_ACCOUNTS is empty: list at least one service account, e.g. gloo,discovery');
  for (const sa of [...serviceAccounts, get('VAULT_SERVICE_ACCOUNT') ?? 'vault']) {
    if (!/^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/.test(sa)) problems.push(`service account "${sa}" is not a valid Kubernetes name: use lower-case letters, digits, - and .`);
  }

  const iamName = (varName: string, value: string, max: number, what: string): void => {
    if (value.length > max) problems.push(`${varName} "${value}" is ${value.length} characters; IAM ${what} names are at most ${max}: set ${varName} to a shorter name or shorten CLUSTER_NAME`);
    else if (!IAM_NAME.test(value)) problems.push(`${varName} "${value}" has characters IAM does not allow: use letters, digits and +=,.@_-`);
  };
  const roleName = get('VAULT_AUTH_ROLE_NAME') ?? `dev-role-iam-${clusterName}`;
  iamName('VAULT_AUTH_ROLE_NAME', roleName, 64, 'role');
  const givenRoleArn = get('VAULT_AUTH_ROLE_ARN');
  if (givenRoleArn && !/^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role\/[\w+=,.@/-]+$/.test(givenRoleArn)) {
    problems.push(`VAULT_AUTH_ROLE_ARN "${givenRoleArn}" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME: fix or unset it`);
  }
  const policyName = get('VAULT_AUTH_POLICY_NAME') ?? `gloo-vault-auth-policy-${clusterName}`;
  iamName('VAULT_AUTH_POLICY_NAME', policyName, 128, 'policy');
  const vaultServerRoleName = get('VAULT_SERVER_ROLE_NAME') ?? `vault-server-${clusterName}`;
  iamName('VAULT_SERVER_ROLE_NAME', vaultServerRoleName, 64, 'role');
  const vaultServerPolicyName = get('VAULT_SERVER_POLICY_NAME') ?? `vault-server-${clusterName}`;
  iamName('VAULT_SERVER_POLICY_NAME', vaultServerPolicyName, 128, 'policy');

  const identity = (get('VAULT_SERVER_IDENTITY') ?? 'role') as VaultServerIdentity;
  if (identity !== 'role' && identity !== 'node') problems.push(`VAULT_SERVER_IDENTITY "${identity}" is not one of role, node`);

  const edition = (get('GLOO_EDITION') ?? 'oss') as Edition;
  if (edition !== 'oss' && edition !== 'enterprise') problems.push(`GLOO_EDITION "${edition}" is not one of oss, enterprise`);

  const licenseKey = get('GLOO_LICENSE_KEY');
  addSecret(licenseKey);
  if (edition === 'enterprise' && !licenseKey) problems.push('GLOO_LICENSE_KEY is not set but GLOO_EDITION=enterprise needs it, as the gloo-ee chart does not install without license_key: set GLOO_LICENSE_KEY to your Gloo Edge Enterprise license key, or GLOO_EDITION to oss');

  const edgeVersion = get('EDGE_VERSION') ?? 'v1.16.x';
  const ev = edgeVersionProblem(edgeVersion);
  if (ev) problems.push(ev);

  const awsEndpoint = get('AWS_ENDPOINT_URL');
  checkUrl('AWS_ENDPOINT_URL', awsEndpoint, problems);
  const vaultAwsEndpoint = get('VAULT_AWS_ENDPOINT_URL') ?? awsEndpoint;
  checkUrl('VAULT_AWS_ENDPOINT_URL', get('VAULT_AWS_ENDPOINT_URL'), problems);
  const vaultAddr = get('VAULT_ADDR') ?? 'http://127.0.0.1:8200';
  checkUrl('VAULT_ADDR', vaultAddr, problems);
  const vaultAddressForGloo = get('VAULT_ADDRESS') ?? `http://vault-internal.${vaultK8sNamespace}:8200`;
  checkUrl('VAULT_ADDRESS', vaultAddressForGloo, problems);
  const oidcIssuer = get('OIDC_ISSUER');
  checkUrl('OIDC_ISSUER', oidcIssuer, problems, { https: true });
  if (oidcIssuer && /:\d+$/.test(new URL(oidcIssuer.startsWith('https://') ? oidcIssuer : 'https://x').host)) {
    problems.push(`OIDC_ISSUER "${oidcIssuer}" has a port; IAM OIDC providers take the issuer without one`);
  }

  const header = get('IAM_SERVER_ID_HEADER_VALUE') ?? 'vault.gloo.example.com';
  if (!/^[\x21-\x7e]+$/.test(header)) problems.push(`IAM_SERVER_ID_HEADER_VALUE "${header}" must be printable ASCII without spaces, e.g. vault.gloo.example.com`);

  const mountName = (varName: string, v: string): void => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(v)) problems.push(`${varName} "${v}" is not a plain Vault mount name: use letters, digits, - and _ (no slashes)`);
  };
  const kvMount = get('VAULT_KV_MOUNT') ?? 'dev';
  mountName('VAULT_KV_MOUNT', kvMount);
  const authMount = get('VAULT_AUTH_MOUNT') ?? 'aws';
  mountName('VAULT_AUTH_MOUNT', authMount);
  const vaultPolicyName = get('VAULT_POLICY_NAME') ?? 'dev';
  mountName('VAULT_POLICY_NAME', vaultPolicyName);
  const rootKey = get('GLOO_ROOT_KEY') ?? 'gloo';
  mountName('GLOO_ROOT_KEY', rootKey);

  const attempts = Number(get('AWS_MAX_ATTEMPTS') ?? '5');
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) problems.push(`AWS_MAX_ATTEMPTS "${get('AWS_MAX_ATTEMPTS')}" must be a whole number from 1 to 20`);

  const vaultToken = get('VAULT_TOKEN');
  addSecret(vaultToken);
  addSecret(get('AWS_SECRET_ACCESS_KEY'));
  addSecret(get('AWS_SESSION_TOKEN'));

  const config: Config = {
    region,
    partition: partitionOf(region),
    profile: get('AWS_PROFILE'),
    awsEndpoint,
    awsMaxAttempts: attempts,
    clusterName,
    namespace,
    serviceAccounts,
    oidcIssuer,
    roleName,
    givenRoleArn,
    policyName,
    vaultServerIdentity: identity,
    vaultServerRoleName,
    vaultServerPolicyName,
    vaultK8sNamespace,
    vaultServiceAccount: get('VAULT_SERVICE_ACCOUNT') ?? 'vault',
    iamServerIdHeader: header,
    vaultAddr,
    vaultToken,
    vaultAddressForGloo,
    vaultAwsEndpoint,
    kvMount,
    vaultPolicyName,
    authMount,
    rootKey,
    edgeVersion,
    edition,
    licenseKey,
    valuesFile: get('GLOO_VALUES_FILE') ?? `.state/helm-overrides-${clusterName}.yaml`,
    stateFile: get('STATE_FILE') ?? '.state/state.json',
    kubeconfig: get('KUBECONFIG'),
    saTokenCommand: get('SA_TOKEN_COMMAND'),
    vaultHelmChart: get('VAULT_HELM_CHART') ?? 'hashicorp/vault',
    glooHelmChart: get('GLOO_HELM_CHART') ?? (edition === 'enterprise' ? 'glooe/gloo-ee' : 'gloo/gloo'),
  };
  return { config, problems };
}

/** Load from process.env and .env; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = { ...readDotEnv(), ...process.env }): Config {
  const { config, problems } = parseConfig(env);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** The Vault role name as Vault stores it. */
export function vaultRoleName(config: Config): string {
  return config.roleName.toLowerCase();
}
