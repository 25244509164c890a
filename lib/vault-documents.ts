// What the runbook writes to Vault (GUIDE §05–09), as data: the same builder
// feeds the API call, the comparison with live state and the manual command.
// Pure functions only.
import type { Config } from './config.js';
import { vaultRoleName } from './config.js';
import { q, vaultCli } from './shell.js';

/** Descriptions the runbook gives its Vault mounts: how teardown recognises them without a record. */
export const AUTH_DESCRIPTION = 'AWS IAM logins for Gloo Edge (vault-irsa-runbook)';
export const KV_DESCRIPTION = 'Gloo Edge secrets (vault-irsa-runbook)';

export const DEV_MODE_WARNING =
  'Vault DEV MODE keeps everything in memory (lost on restart), starts unsealed with a well-known root token and no TLS: it is for this guide and the lab only, never for production';

/** STS as Vault should reach it: the regional endpoint, or the emulator in the lab. */
export function stsEndpoint(config: Pick<Config, 'region' | 'partition' | 'vaultAwsEndpoint'>): string {
  if (config.vaultAwsEndpoint) return config.vaultAwsEndpoint.replace(/\/$/, '');
  return `https://sts.${config.region}.amazonaws.com${config.partition === 'aws-cn' ? '.cn' : ''}`;
}

/** auth/<mount>/config/client as the runbook wants it. iam_endpoint only against an emulator ('' clears it). */
export function clientConfig(config: Pick<Config, 'region' | 'partition' | 'vaultAwsEndpoint' | 'iamServerIdHeader'>): Record<string, string> {
  return {
    iam_server_id_header_value: config.iamServerIdHeader,
    sts_endpoint: stsEndpoint(config),
    sts_region: config.region,
    iam_endpoint: config.vaultAwsEndpoint ? config.vaultAwsEndpoint.replace(/\/$/, '') : '',
  };
}

/** The fields of a live client config that the runbook manages, in the same shape. */
export function liveClientConfig(data: Record<string, unknown> | undefined): Record<string, string> | undefined {
  if (!data) return undefined;
  const pick = (k: string): string => (typeof data[k] === 'string' ? (data[k] as string) : '');
  return { iam_server_id_header_value: pick('iam_server_id_header_value'), sts_endpoint: pick('sts_endpoint'), sts_region: pick('sts_region'), iam_endpoint: pick('iam_endpoint') };
}

export const TOKEN_MAX_TTL = '24h';
export const TOKEN_MAX_TTL_SECONDS = 24 * 3600;

/** What is written to auth/<mount>/role/<name>. */
export function rolePayload(config: Pick<Config, 'vaultPolicyName'>, roleArn: string): Record<string, string> {
  return { auth_type: 'iam', bound_iam_principal_arn: roleArn, token_policies: config.vaultPolicyName, token_max_ttl: TOKEN_MAX_TTL };
}

/** The role as Vault reads it back (lists, seconds), for comparison with live. */
export function roleWanted(config: Pick<Config, 'vaultPolicyName'>, roleArn: string): Record<string, unknown> {
  return { auth_type: 'iam', bound_iam_principal_arn: [roleArn], token_policies: [config.vaultPolicyName], token_max_ttl: TOKEN_MAX_TTL_SECONDS };
}

export function liveRole(data: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!data) return undefined;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? v.split(',') : []);
  return {
    auth_type: data.auth_type,
    bound_iam_principal_arn: list(data.bound_iam_principal_arn),
    token_policies: list(data.token_policies).sort(),
    token_max_ttl: typeof data.token_max_ttl === 'number' ? data.token_max_ttl : Number(data.token_max_ttl ?? 0),
  };
}

/** Manual command words: `key=value` for each field, in order. */
function kv(fields: Record<string, string>): string[] {
  return Object.entries(fields).map(([k, v]) => `${k}=${v}`);
}

/** A command as the guide lays it out: the head on one line, then one group per continued line when long. */
export function continued(head: string[], ...groups: string[][]): string {
  const first = head.map(q).join(' ');
  const rest = groups.filter((g) => g.length).map((g) => g.map(q).join(' '));
  const one = [first, ...rest].join(' ');
  return one.length <= 100 ? one : [first, ...rest].join(' \\\n    ');
}

/** `kubectl exec -n <ns> vault-0 -- vault write <path> k=v ...`, one field a line when long. */
export function vaultWriteCommand(ns: string, path: string, fields: Record<string, string>): string {
  return continued(['kubectl', 'exec', '-n', ns, 'vault-0', '--', 'vault', 'write', path], ...kv(fields).map((w) => [w]));
}

export function authEnableCommand(config: Pick<Config, 'vaultK8sNamespace' | 'authMount'>): string {
  const pathFlag = config.authMount === 'aws' ? [] : [`-path=${config.authMount}`];
  return vaultCli(config.vaultK8sNamespace, 'auth', 'enable', ...pathFlag, 'aws');
}

export function kvEnableCommand(config: Pick<Config, 'vaultK8sNamespace' | 'kvMount'>): string {
  return vaultCli(config.vaultK8sNamespace, 'secrets', 'enable', `-path=${config.kvMount}`, '-version=2', 'kv');
}

export function kvUpgradeCommand(config: Pick<Config, 'vaultK8sNamespace' | 'kvMount'>): string {
  return vaultCli(config.vaultK8sNamespace, 'kv', 'enable-versioning', `${config.kvMount}/`);
}

/** Client config command; fields whose wanted value is empty are left out unless listed in `clear`. */
export function clientConfigCommand(config: Pick<Config, 'vaultK8sNamespace' | 'authMount'>, fields: Record<string, string>, clear: string[] = []): string {
  const shown = Object.fromEntries(Object.entries(fields).filter(([k, v]) => v !== '' || clear.includes(k)));
  return vaultWriteCommand(config.vaultK8sNamespace, `auth/${config.authMount}/config/client`, shown);
}

export function roleCommand(config: Pick<Config, 'vaultK8sNamespace' | 'authMount' | 'roleName' | 'vaultPolicyName'>, roleArn: string): string {
  return vaultWriteCommand(config.vaultK8sNamespace, `auth/${config.authMount}/role/${vaultRoleName(config as Config)}`, rolePayload(config, roleArn));
}

export function roleDeleteCommand(config: Pick<Config, 'vaultK8sNamespace' | 'authMount' | 'roleName'>): string {
  return vaultCli(config.vaultK8sNamespace, 'delete', `auth/${config.authMount}/role/${vaultRoleName(config as Config)}`);
}

/** Helm values for the Vault chart (GUIDE §04): dev mode, no injector, the service account the Vault role trusts, and its IRSA role. */
export const VAULT_ROLE_ANNOTATION_KEY = 'server.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn';
/** The chart names the server's service account after the release unless told: VAULT_SERVICE_ACCOUNT is set explicitly. */
export const VAULT_SERVICE_ACCOUNT_KEY = 'server.serviceAccount.name';

export function vaultHelmSet(serverRoleArn: string | undefined, serviceAccount: string): Record<string, string> {
  return {
    'server.dev.enabled': 'true',
    'injector.enabled': 'false',
    [VAULT_SERVICE_ACCOUNT_KEY]: serviceAccount,
    ...(serverRoleArn ? { [VAULT_ROLE_ANNOTATION_KEY]: serverRoleArn } : {}),
  };
}

/** The values `helm get values` would return for the wanted release, for comparison. */
export function vaultHelmValues(serverRoleArn: string | undefined, serviceAccount: string): Record<string, unknown> {
  return {
    server: { dev: { enabled: true }, serviceAccount: { name: serviceAccount, ...(serverRoleArn ? { annotations: { 'eks.amazonaws.com/role-arn': serverRoleArn } } : {}) } },
    injector: { enabled: false },
  };
}
