// Gloo's own Vault login, read from its metrics (verify's link 7). Gloo's Vault
// client records four opencensus measures (solo-io/gloo,
// projects/gloo/pkg/bootstrap/clients/vault/stats.go):
//   gloo.solo.io/vault/login_successes, login_failures      (sums)
//   gloo.solo.io/vault/last_login_success, last_login_failure (Unix seconds, last value)
// and its stats server (solo-io/go-utils stats: started when the pod's env has
// START_STATS_SERVER=true, which the chart sets while global.glooStats.enabled, its
// default) serves them as Prometheus text at :9091/metrics, the measure name turned
// into a metric name (`gloo_solo_io_vault_login_successes`). The runbook reads that
// page through the API server's pod proxy: no port-forward, no port on this machine.
// Everything here but readGlooMetrics is pure.
import type { Config } from './config.js';
import { kubectl } from './kube.js';
import { cmd } from './shell.js';

/** go-utils stats.DefaultPort: where Gloo's stats server listens. */
export const GLOO_STATS_PORT = 9091;

/** Pure: the API server path that proxies to a pod's metrics page. */
export function podMetricsPath(namespace: string, pod: string, port: number = GLOO_STATS_PORT): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy/metrics`;
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Pure: the value of a Prometheus sample (Go's ParseFloat forms: 1, 1.5e3, +Inf, -Inf, NaN). */
function parseValue(text: string): number | undefined {
  if (/^[+]?Inf$/i.test(text)) return Infinity;
  if (/^-Inf$/i.test(text)) return -Infinity;
  if (/^NaN$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Pure: the samples of a Prometheus text exposition (format 0.0.4). HELP, TYPE and
 * other comments are skipped; label values may hold spaces, commas, braces and the
 * escapes \" \\ \n; a line that does not parse is skipped, not fatal.
 */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const name = NAME.exec(line)?.[0];
    if (!name) continue;
    let i = name.length;
    const labels: Record<string, string> = {};
    let ok = true;
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}') {
          i++;
          break;
        }
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))?.[0];
        if (!key) { ok = false; break; }
        i += key.length;
        while (line[i] === ' ') i++;
        if (line[i] !== '=') { ok = false; break; }
        i++;
        while (line[i] === ' ') i++;
        if (line[i] !== '"') { ok = false; break; }
        i++;
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            const next = line[i + 1]!;
            value += next === 'n' ? '\n' : next;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        if (line[i] !== '"') { ok = false; break; }
        i++;
        labels[key] = value;
      }
    }
    if (!ok) continue;
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseValue(rest[0] ?? '');
    if (value === undefined) continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** What Gloo's metrics say about its Vault logins; a field is undefined when its metric is absent. */
export interface VaultLoginCounters {
  successes?: number;
  failures?: number;
  /** Unix seconds of the last success / failure (the latest across label sets). */
  lastSuccess?: number;
  lastFailure?: number;
}

// The measure's last path segment at the end of the metric name, whatever the exporter
// put before it (gloo_solo_io_, a namespace) and an optional _total a newer exporter adds.
const COUNTERS: [keyof VaultLoginCounters, RegExp, 'sum' | 'max'][] = [
  ['successes', /(^|_)vault_login_successes(_total)?$/, 'sum'],
  ['failures', /(^|_)vault_login_failures(_total)?$/, 'sum'],
  ['lastSuccess', /(^|_)vault_last_login_success$/, 'max'],
  ['lastFailure', /(^|_)vault_last_login_failure$/, 'max'],
];

/** Pure: Gloo's Vault login counters in a metrics page, each summed (timestamps: the latest) across label sets. */
export function vaultLoginCounters(text: string): VaultLoginCounters {
  const out: VaultLoginCounters = {};
  for (const s of parsePrometheusText(text)) {
    if (!Number.isFinite(s.value)) continue;
    for (const [field, re, how] of COUNTERS) {
      if (!re.test(s.name)) continue;
      const prev = out[field];
      out[field] = prev === undefined ? s.value : how === 'sum' ? prev + s.value : Math.max(prev, s.value);
    }
  }
  return out;
}

/** One running gloo pod and what reading its metrics gave: the page, or the error. */
export interface PodMetrics {
  pod: string;
  /** The pod spec's START_STATS_SERVER (the stats server starts only when it is "true"). */
  statsServer?: string;
  text?: string;
  error?: string;
}

export type GlooLoginOutcome = 'ok' | 'failed' | 'not checked';

export interface GlooLoginVerdict {
  outcome: GlooLoginOutcome;
  /** ok: what was seen; failed: one sentence naming what to do; not checked: one clause, why. */
  detail: string;
}

const times = (n: number) => `${n} time${n === 1 ? '' : 's'}`;
const iso = (unix: number | undefined) => (unix && unix > 0 ? new Date(unix * 1000).toISOString().replace(/\.000Z$/, 'Z') : undefined);

/** Pure: why one pod's metrics could not be read, as one clause. */
function unreadable(p: PodMetrics, port: number): string {
  const off = p.statsServer !== 'true' ? `, and its spec has no START_STATS_SERVER=true, so its stats server is off: the Gloo chart's global.glooStats.enabled` : '';
  return `pod ${p.pod} did not serve :${port}/metrics through the API server's pod proxy (${(p.error ?? 'no answer').replace(/[.;]\s*$/, '')}${off})`;
}

/**
 * Pure: link 7's decision from each running gloo pod's metrics page or error.
 * - every pod logged in at least once: ok ("Gloo itself logged in to Vault N time(s)");
 * - a pod whose counters show failed logins and no success: failed, one sentence naming
 *   what to read and run (exit 6, as link 6);
 * - otherwise (a page that did not answer, counters absent, no attempt yet): not checked,
 *   with the reason in one clause. Never a pass by default.
 */
export function glooLoginVerdict(pods: PodMetrics[], namespace: string, deployment = 'gloo', port: number = GLOO_STATS_PORT): GlooLoginVerdict {
  if (!pods.length) return { outcome: 'not checked', detail: `no running ${deployment} pod in ${namespace} to read metrics from` };
  const read = pods.map((p) => ({ p, c: p.text === undefined ? undefined : vaultLoginCounters(p.text) }));
  const failing = read.filter((r) => r.c && !(r.c.successes! > 0) && r.c.failures! > 0);
  if (failing.length) {
    const { p, c } = failing[0]!;
    const at = iso(c!.lastFailure);
    return {
      outcome: 'failed',
      detail: `Gloo itself failed to log in to Vault (pod ${p.pod}: ${times(c!.failures!)}${at ? `, last at ${at}` : ''}, never successfully), though the same chain works with the runbook's token: read its error with \`${cmd('kubectl', 'logs', '-n', namespace, `deploy/${deployment}`)} | grep -i vault\`, then run \`make troubleshoot\``,
    };
  }
  const notRead = read.find((r) => !r.c);
  if (notRead) return { outcome: 'not checked', detail: unreadable(notRead.p, port) };
  const silent = read.find((r) => r.c!.successes === undefined && r.c!.failures === undefined);
  if (silent) return { outcome: 'not checked', detail: `pod ${silent.p.pod}'s metrics carry no Vault login counters (a Gloo that has not tried to log in yet, does not read secrets from Vault, or predates the counters)` };
  const none = read.find((r) => !(r.c!.successes! > 0));
  if (none) return { outcome: 'not checked', detail: `pod ${none.p.pod}'s Vault login counters are zero (no login attempt recorded yet)` };
  const total = read.reduce((n, r) => n + r.c!.successes!, 0);
  const failed = read.reduce((n, r) => n + (r.c!.failures ?? 0), 0);
  const lastFailure = Math.max(...read.map((r) => r.c!.lastFailure ?? 0));
  const lastSuccess = Math.max(...read.map((r) => r.c!.lastSuccess ?? 0));
  const notes = [
    iso(lastSuccess) ? `last at ${iso(lastSuccess)}` : '',
    failed ? `after ${failed} failed attempt${failed === 1 ? '' : 's'}` : '',
    lastFailure > lastSuccess && lastSuccess > 0 ? `its latest attempt, at ${iso(lastFailure)}, failed` : '',
  ].filter(Boolean);
  const where = pods.length === 1 ? `pod ${pods[0]!.pod}'s :${port}/metrics` : `the :${port}/metrics of ${pods.length} ${deployment} pods`;
  return { outcome: 'ok', detail: `Gloo itself logged in to Vault ${times(total)} (${[where, ...notes].join(', ')})` };
}

/**
 * Each pod's metrics page through the API server's pod proxy (`kubectl get --raw`),
 * with a short timeout: a pod with no process behind the port (kwok's, a crashed one)
 * must not hold verify up. Never throws: an error is the pod's `error`.
 */
export async function readGlooMetrics(config: Pick<Config, 'kubeconfig' | 'namespace'>, pods: { name: string; statsServer?: string }[], port: number = GLOO_STATS_PORT, timeoutSecs = 5): Promise<PodMetrics[]> {
  return Promise.all(pods.map(async (p): Promise<PodMetrics> => {
    const base = { pod: p.name, ...(p.statsServer !== undefined ? { statsServer: p.statsServer } : {}) };
    try {
      const text = await kubectl(['get', '--raw', podMetricsPath(config.namespace, p.name, port), `--request-timeout=${timeoutSecs}s`], { config, timeoutMs: (timeoutSecs + 5) * 1000 });
      return { ...base, text };
    } catch (err) {
      return { ...base, error: (err instanceof Error ? err.message : String(err)).replace(/^`kubectl [^`]*` failed: /, '') };
    }
  }));
}
