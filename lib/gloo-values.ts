// The Gloo Edge Helm overrides (GUIDE §10), built as data by a pure function and
// serialised with the `yaml` library, and the check of what `helm template`
// renders from them. Pure functions only.
import YAML from 'yaml';
import type { Config, Edition } from './config.js';
import { vaultRoleName } from './config.js';

export const ROLE_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const DEFAULT_ROOT_KEY = 'gloo';

export const GLOO_CHARTS: Record<Edition, { repo: string; url: string; chart: string }> = {
  oss: { repo: 'gloo', url: 'https://storage.googleapis.com/solo-public-helm', chart: 'gloo/gloo' },
  enterprise: { repo: 'glooe', url: 'https://storage.googleapis.com/gloo-ee-helm', chart: 'glooe/gloo-ee' },
};
export const GLOO_RELEASE = 'gloo';

export interface GlooValuesInput {
  edition: Edition;
  vaultAddress: string;
  iamServerIdHeader: string;
  authMount: string;
  region: string;
  /** The Vault AWS auth role, set explicitly (the guide relies on a name match). */
  vaultRole: string;
  kvMount: string;
  rootKey: string;
  roleArn: string;
  /** The service accounts to annotate, as chart keys (gloo, discovery). */
  serviceAccounts: string[];
  /** Enterprise only: the gloo-ee chart's top-level license_key (a secret). */
  licenseKey?: string | undefined;
}

export function glooValuesInput(config: Config, roleArn: string): GlooValuesInput {
  return {
    edition: config.edition,
    vaultAddress: config.vaultAddressForGloo,
    iamServerIdHeader: config.iamServerIdHeader,
    authMount: config.authMount,
    region: config.region,
    // Vault stores role names in lower case and lower-cases the login's role.
    vaultRole: vaultRoleName(config),
    kvMount: config.kvMount,
    rootKey: config.rootKey,
    roleArn,
    serviceAccounts: config.serviceAccounts,
    ...(config.edition === 'enterprise' ? { licenseKey: config.licenseKey } : {}),
  };
}

/**
 * Pure: the overrides exactly as GUIDE §10 lays them out; Enterprise nests them under `gloo:`
 * and adds the gloo-ee chart's top-level `license_key`, without which it does not install.
 */
export function glooValues(i: GlooValuesInput): Record<string, unknown> {
  const vault: Record<string, unknown> = {
    address: i.vaultAddress,
    aws: {
      iamServerIdHeader: i.iamServerIdHeader,
      mountPath: i.authMount,
      region: i.region,
      vaultRole: i.vaultRole,
    },
    pathPrefix: i.kvMount,
  };
  // rootKey defaults to `gloo` in the chart: written only when it differs.
  if (i.rootKey !== DEFAULT_ROOT_KEY) vault.rootKey = i.rootKey;
  const values: Record<string, unknown> = {
    settings: { secretOptions: { sources: [{ vault }, { kubernetes: {} }] } },
  };
  for (const sa of i.serviceAccounts) {
    values[sa] = { serviceAccount: { extraAnnotations: { [ROLE_ANNOTATION]: i.roleArn } } };
  }
  if (i.edition !== 'enterprise') return values;
  return { ...(i.licenseKey ? { license_key: i.licenseKey } : {}), gloo: values };
}

/** Pure: the file written by step 10. */
export function renderValues(values: Record<string, unknown>, header?: string): string {
  const body = YAML.stringify(values, { indent: 2, lineWidth: 0 });
  return header ? `${header.split('\n').map((l) => `# ${l}`).join('\n')}\n${body}` : body;
}

/** Pure: the values as parsed data (comments and layout do not count). */
export function parseValues(text: string): unknown {
  return YAML.parse(text) ?? {};
}

/** Pure: the values the chart itself sees (Enterprise passes `gloo:` to the gloo subchart). */
export function chartValues(values: Record<string, unknown>, edition: Edition): Record<string, unknown> {
  return edition === 'enterprise' ? ((values.gloo ?? {}) as Record<string, unknown>) : values;
}

interface Manifest {
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

/** Pure: every Kubernetes object in a multi-document YAML stream. */
export function parseManifests(text: string): Manifest[] {
  return YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => Boolean(m && typeof m === 'object' && m.kind));
}

/**
 * Pure: what `helm template` rendered, checked against the values: the Settings
 * resource carries the vault source (address, aws, pathPrefix) and every service
 * account carries the role annotation. Returns the problems, empty when all is well.
 */
export function checkRendered(manifests: Manifest[], i: GlooValuesInput): { problems: string[]; proven: string[] } {
  const problems: string[] = [];
  const proven: string[] = [];
  const settings = manifests.filter((m) => m.kind === 'Settings');
  if (!settings.length) problems.push('no Settings resource in the rendered chart');
  for (const s of settings) {
    const sources = ((s.spec?.secretOptions as { sources?: unknown[] } | undefined)?.sources ?? []) as Record<string, unknown>[];
    const v = sources.find((x) => x && typeof x === 'object' && 'vault' in x)?.vault as Record<string, unknown> | undefined;
    const name = `Settings ${s.metadata?.name ?? '?'}`;
    if (!v) {
      problems.push(`${name} has no vault entry in spec.secretOptions.sources`);
      continue;
    }
    const aws = (v.aws ?? {}) as Record<string, unknown>;
    const want: [string, unknown, unknown][] = [
      ['address', v.address, i.vaultAddress],
      ['pathPrefix', v.pathPrefix, i.kvMount],
      ['aws.vaultRole', aws.vaultRole, i.vaultRole],
      ['aws.mountPath', aws.mountPath, i.authMount],
      ['aws.region', aws.region, i.region],
      ['aws.iamServerIdHeader', aws.iamServerIdHeader, i.iamServerIdHeader],
    ];
    const bad = want.filter(([, got, w]) => got !== w).map(([k, got, w]) => `${k} is ${JSON.stringify(got)}, wanted ${JSON.stringify(w)}`);
    if (bad.length) problems.push(`${name} vault source: ${bad.join('; ')}`);
    else proven.push(`${name} reads Vault ${i.vaultAddress} (${i.kvMount}, role ${i.vaultRole})`);
    if (!sources.some((x) => x && typeof x === 'object' && 'kubernetes' in x)) problems.push(`${name} lost the kubernetes secret source`);
  }
  for (const sa of i.serviceAccounts) {
    const obj = manifests.find((m) => m.kind === 'ServiceAccount' && m.metadata?.name === sa);
    const got = obj?.metadata?.annotations?.[ROLE_ANNOTATION];
    if (!obj) problems.push(`no ServiceAccount ${sa} in the rendered chart`);
    else if (got !== i.roleArn) problems.push(`ServiceAccount ${sa} has ${ROLE_ANNOTATION}=${got ?? '(none)'}, wanted ${i.roleArn}`);
    else proven.push(`ServiceAccount ${sa} carries ${ROLE_ANNOTATION}`);
  }
  return { problems, proven };
}
