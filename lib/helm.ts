// helm through zx. Failures become RemoteError('helm', …) with one sentence.
import { loadZx } from './load-zx.js';
import type { Config } from './config.js';
import { kubeError, onPath } from './kube.js';
import { cmd } from './shell.js';
import { GLOO_CHARTS } from './gloo-values.js';

function env(config?: Pick<Config, 'kubeconfig'>): NodeJS.ProcessEnv {
  return config?.kubeconfig ? { ...process.env, KUBECONFIG: config.kubeconfig } : process.env;
}

async function helm(args: string[], config?: Pick<Config, 'kubeconfig'>, timeoutMs?: number): Promise<string> {
  const $ = await loadZx();
  try {
    return (await $({ env: env(config), quiet: true, ...(timeoutMs ? { timeout: timeoutMs } : {}) })`helm ${args}`).stdout;
  } catch (err) {
    throw kubeError('helm', args, err);
  }
}

export interface HelmInstall {
  release: string;
  chart: string;
  namespace: string;
  version?: string;
  /** Values files, in order: later ones win (helm -f merge). */
  values?: string | string[];
  /** --set key=value pairs. */
  set?: Record<string, string>;
  /** Extra flags, e.g. ['--wait', '--timeout', '5m']. */
  extra?: string[];
  createNamespace?: boolean;
  config?: Pick<Config, 'kubeconfig'>;
}

/** Pure: the argument list for `helm upgrade --install` (also used to print the manual command). */
export function helmUpgradeInstallArgs(o: Omit<HelmInstall, 'config'>): string[] {
  const args = ['upgrade', '--install', o.release, o.chart, '-n', o.namespace];
  if (o.createNamespace !== false) args.push('--create-namespace');
  if (o.version) args.push('--version', o.version);
  for (const f of [o.values ?? []].flat()) args.push('-f', f);
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  args.push(...(o.extra ?? []));
  return args;
}

export async function helmUpgradeInstall(o: HelmInstall): Promise<string> {
  return helm(helmUpgradeInstallArgs(o), o.config, 15 * 60_000);
}

export async function helmRepoAdd(name: string, url: string, config?: Pick<Config, 'kubeconfig'>): Promise<void> {
  await helm(['repo', 'add', name, url, '--force-update'], config);
  await helm(['repo', 'update', name], config);
}

/** The deployed release, or undefined when it is not installed. */
export async function helmRelease(release: string, namespace: string, config?: Pick<Config, 'kubeconfig'>): Promise<{ name: string; status: string; chart: string; app_version: string } | undefined> {
  const out = await helm(['list', '-n', namespace, '--filter', `^${release}$`, '-o', 'json'], config);
  const list = JSON.parse(out || '[]') as { name: string; status: string; chart: string; app_version: string }[];
  return list.find((r) => r.name === release);
}

/** User-supplied values of a release (`helm get values -o json`). */
export async function helmValues(release: string, namespace: string, config?: Pick<Config, 'kubeconfig'>): Promise<Record<string, unknown>> {
  const out = await helm(['get', 'values', release, '-n', namespace, '-o', 'json'], config);
  return (JSON.parse(out || '{}') ?? {}) as Record<string, unknown>;
}

// One `helm version` per process and helm binary.
const helmRuns = new Map<string, Promise<boolean>>();

/**
 * True when the helm binary runs (never throws). Without helm on PATH that is known
 * without starting a process; otherwise `helm version` decides, once per process.
 */
export function hasHelm(): Promise<boolean> {
  const bin = onPath('helm');
  if (!bin) return Promise.resolve(false);
  let runs = helmRuns.get(bin);
  if (!runs) {
    runs = (async () => {
      const $ = await loadZx();
      try {
        await $({ quiet: true, timeout: 10_000 })`helm version --short`;
        return true;
      } catch {
        return false;
      }
    })();
    helmRuns.set(bin, runs);
  }
  return runs;
}

/** `helm template` of a chart with a values file: the rendered manifests (no cluster needed). */
export async function helmTemplate(o: { release: string; chart: string; namespace: string; version?: string; values: string; config?: Pick<Config, 'kubeconfig'> }): Promise<string> {
  const args = ['template', o.release, o.chart, '-n', o.namespace, '--values', o.values, ...(o.version ? ['--version', o.version] : [])];
  return helm(args, o.config, 5 * 60_000);
}

/** `helm uninstall`; true when a release was removed, false when there was none. */
export async function helmUninstall(release: string, namespace: string, config?: Pick<Config, 'kubeconfig'>): Promise<boolean> {
  if (!(await helmRelease(release, namespace, config))) return false;
  await helm(['uninstall', release, '-n', namespace, '--wait'], config, 10 * 60_000);
  return true;
}

/** Chart repositories the runbook knows how to add (`helm repo add <name> <url>`). */
export const KNOWN_REPOS: Record<string, string> = {
  hashicorp: 'https://helm.releases.hashicorp.com',
  gloo: 'https://storage.googleapis.com/solo-public-helm',
  glooe: 'https://storage.googleapis.com/gloo-ee-helm',
};

/** Pure: a local chart (a path: /, ./, ../ or ~/) is used as it is; no repository to add. */
export function isLocalChart(chart: string): boolean {
  return /^(\/|\.\.?\/|~\/)/.test(chart) || chart === '.' || chart === '..';
}

/**
 * Pure: the repository a chart reference needs added first, if any: `hashicorp/vault`
 * gives hashicorp and its URL; a local path, or a repository the runbook does not
 * know (the user added it), none.
 */
export function chartRepo(chart: string): { name: string; url: string } | undefined {
  if (isLocalChart(chart)) return undefined;
  const name = chart.split('/')[0]!;
  const url = KNOWN_REPOS[name];
  return chart.includes('/') && url ? { name, url } : undefined;
}

/** Adds the chart's repository when it needs one (never for a local chart). */
export async function ensureChartRepo(chart: string, config?: Pick<Config, 'kubeconfig'>): Promise<void> {
  const repo = chartRepo(chart);
  if (repo) await helmRepoAdd(repo.name, repo.url, config);
}

/** The Gloo chart's repository as a person adds it: before `helm template` (step 10) and the install (step 11); none for a local chart (GLOO_HELM_CHART). */
export function glooRepoCommands(config: Pick<Config, 'glooHelmChart'>): string[] {
  const r = chartRepo(config.glooHelmChart);
  return r ? [cmd('helm', 'repo', 'add', r.name, r.url), cmd('helm', 'repo', 'update', r.name)] : [];
}
