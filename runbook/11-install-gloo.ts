// Step 11: Gloo Edge itself (GUIDE §11): helm upgrade --install with the
// overrides from step 10, wait for the rollout, then check that the gloo and
// discovery service accounts carry the IRSA role annotation and that their
// RUNNING pods carry the role (IRSA reaches pods at creation only: pods older
// than the annotation are restarted). An annotation changed by hand on the
// cluster is drift even when Helm's values are right. Without a Kubernetes
// cluster the step says it is skipped, why, and the command that would run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { chartVersionOf, isDowngrade, leaves, planValues, type Values } from '../lib/helm-values.js';
import { defineStep, recordCreated, type Action, type Ctx } from '../lib/step.js';
import { deleteHelmReleases } from '../lib/delete.js';
import { PrerequisiteError, VerificationError } from '../lib/errors.js';
import { cmd, raw } from '../lib/shell.js';
import type { Config } from '../lib/config.js';
import { GLOO_RELEASE, ROLE_ANNOTATION, parseValues } from '../lib/gloo-values.js';
import { hasKubeCluster, kubectl } from '../lib/kube.js';
import { podIdentityProblems, restartCommand, rolloutRestart, type PodIdentity } from '../lib/gloo-pods.js';
import { early } from '../lib/early.js';
import { chartRepo, ensureChartRepo, glooRepoCommands, helmRelease, helmUpgradeInstall, helmValues } from '../lib/helm.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

/** Where the manual commands keep the release's user values before an upgrade. */
export const USER_VALUES_FILE = 'gloo-user-values.yaml';

/**
 * Pure: the install command exactly as a person would type it. On an existing
 * release the user's values come first (userFile, from `helm get values`) and the
 * runbook's file over them: helm merges -f files in order, so the user's other
 * keys are kept (not --reuse-values: the merge is planned and shown beforehand).
 */
export function installCommand(config: Config, file: string, userFile?: string): string {
  return cmd('helm', 'upgrade', '--install', GLOO_RELEASE, config.glooHelmChart, '-n', config.namespace, '--create-namespace', '--version', config.edgeVersion, ...(userFile ? ['--values', userFile] : []), '--values', file);
}

function userValuesCommand(config: Config): string {
  return raw(`${cmd('helm', 'get', 'values', GLOO_RELEASE, '-n', config.namespace, '-o', 'yaml')} > ${USER_VALUES_FILE}`);
}

/** `helm repo add`/`update` for the chart's repository; none for a local chart (GLOO_HELM_CHART). */
function repoCommands(config: Config): string[] {
  return glooRepoCommands(config);
}

function rolloutCommand(config: Config): string {
  return cmd('kubectl', 'rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=300s');
}

function valuesFileOf(ctx: Pick<Ctx, 'config' | 'state'>): string {
  return ctx.state.get('valuesFile') ?? path.resolve(ctx.config.valuesFile);
}

interface ServiceAccount {
  metadata: { name: string; annotations?: Record<string, string> };
}

/** The annotations of the service accounts (one kubectl for all), checked against the role ARN: the problems. */
async function annotationProblems(config: Config, roleArn: string): Promise<string[]> {
  const ns = config.namespace;
  let found: ServiceAccount[];
  try {
    const out = await kubectl(['get', 'serviceaccount', ...config.serviceAccounts, '-n', ns, '-o', 'json', '--ignore-not-found'], { config });
    // Several names give a List; one name gives the object itself; none found, nothing.
    const parsed = (out.trim() ? JSON.parse(out) : { items: [] }) as ServiceAccount | { items: ServiceAccount[] };
    found = 'items' in parsed ? parsed.items : [parsed];
  } catch (err) {
    return [`service accounts ${config.serviceAccounts.map((sa) => `${ns}/${sa}`).join(', ')}: ${(err as Error).message}`];
  }
  const problems: string[] = [];
  for (const sa of config.serviceAccounts) {
    const obj = found.find((o) => o.metadata.name === sa);
    if (!obj) {
      problems.push(`service account ${ns}/${sa} does not exist`);
      continue;
    }
    const got = obj.metadata.annotations?.[ROLE_ANNOTATION];
    if (got !== roleArn) problems.push(`service account ${ns}/${sa} has ${ROLE_ANNOTATION}=${got ?? '(none)'}, wanted ${roleArn}`);
  }
  return problems;
}

/** What check() read of the live identity: the service accounts' annotations and the running pods. */
interface LiveIdentity {
  annotations: string[];
  pods: PodIdentity;
}

/** Both reads of the live identity at once (a kubectl each). */
function readIdentity(config: Config, roleArn: string): Promise<LiveIdentity> {
  const annotations = early(annotationProblems(config, roleArn));
  const pods = early(podIdentityProblems(config, roleArn));
  return Promise.all([annotations, pods]).then(([a, p]) => ({ annotations: a, pods: p }));
}

// The identity a check found right, for the verify that follows it in the same run when
// the step changed nothing: verify then re-reads none of it (only waits for the rollout).
const provenByCheck = new WeakMap<Ctx, LiveIdentity>();

type Release = NonNullable<Awaited<ReturnType<typeof helmRelease>>>;

/** The cluster reads check() starts with; no earlier step writes anything they read. */
interface ClusterReads {
  /** A Kubernetes cluster answers kubectl. */
  cluster: boolean;
  release?: Release;
  /** The release's user values (`helm get values`). */
  values?: Values;
  /** The live identity, and the role ARN it was judged against. */
  identity?: { roleArn: string; read: Promise<LiveIdentity> };
}

async function readCluster(ctx: Ctx): Promise<ClusterReads> {
  const { config, state } = ctx;
  if (!(await hasKubeCluster(config))) return { cluster: false };
  const release = await helmRelease(GLOO_RELEASE, config.namespace, config);
  if (!release) return { cluster: true };
  // The release's values and the live identity (service accounts, running pods) at once.
  const roleArn = state.get('roleArn');
  const identity = roleArn ? { roleArn, read: early(readIdentity(config, roleArn)) } : undefined;
  const values = (await helmValues(GLOO_RELEASE, config.namespace, config)) as Values;
  return { cluster: true, release, values, ...(identity ? { identity } : {}) };
}

// Step 11's prefetch in a run of several steps, taken by its check (once).
const prefetched = new WeakMap<Ctx, Promise<ClusterReads>>();

/** The prefetched reads when there are, else read now; a prefetch that failed is read again, so its error is today's. */
async function clusterReads(ctx: Ctx): Promise<ClusterReads> {
  const asked = prefetched.get(ctx);
  prefetched.delete(ctx);
  if (asked) {
    try {
      return await asked;
    } catch {
      // read again below
    }
  }
  return readCluster(ctx);
}

/** Pure: the user's values the runbook does not write (dotted paths). */
function leavesOutside(live: Values, wanted: Values): string[] {
  const w = leaves(wanted);
  return [...leaves(live).keys()].filter((p) => !w.has(p));
}

/** The user's values exist (anything `helm get values` returns). */
function hasUserValuesOf(live: Values): boolean {
  return Object.keys(live).length > 0;
}

/**
 * The webhook injects the role at pod creation only: pods made under another (or
 * no) annotation keep their old identity until they are replaced. Restarts the
 * deployments whose running pods lack the role (their service account has it now).
 */
async function restartStalePods(config: Config, roleArn: string): Promise<void> {
  const pods = await podIdentityProblems(config, roleArn);
  if (!pods.stale.length) return;
  await rolloutRestart(config, pods.stale);
  await kubectl(['rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=300s'], { config, timeoutMs: 320_000 });
}

/**
 * Drift Helm's values cannot show: a role annotation changed or removed by hand on a
 * service account (kubectl annotate), or running pods created before the role. The
 * Helm values are right, so the fix is `helm upgrade` with the same values (Helm's
 * three-way merge puts the chart's annotation back) and a restart of the pods.
 */
async function liveIdentityDrift(ctx: Ctx, file: string, hasUserValues: boolean, kept: string, live: LiveIdentity): Promise<Action | undefined> {
  const { config, state } = ctx;
  const roleArn = state.get('roleArn')!;
  const { annotations, pods } = live;
  if (annotations.length) {
    return {
      what: `role annotation on the service accounts of Helm release ${GLOO_RELEASE} in ${config.namespace}`,
      change: 'update',
      note: `${kept}; changed by hand on the cluster: helm upgrade with the same values restores the chart's annotation, then the pods are restarted`,
      diff: annotations.join('\n'),
      commands: [...(hasUserValues ? [userValuesCommand(config)] : []), installCommand(config, file, hasUserValues ? USER_VALUES_FILE : undefined), restartCommand(config), rolloutCommand(config)],
      apply: async () => {
        await ensureChartRepo(config.glooHelmChart, config);
        const live = await helmValues(GLOO_RELEASE, config.namespace, config);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gloo-user-values-'));
        const userFile = path.join(dir, 'values.json');
        fs.writeFileSync(userFile, JSON.stringify(live), { mode: 0o600 });
        try {
          await helmUpgradeInstall({ release: GLOO_RELEASE, chart: config.glooHelmChart, namespace: config.namespace, version: config.edgeVersion, values: [userFile, file], extra: ['--wait', '--timeout', '10m'], config });
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
        const left = await annotationProblems(config, roleArn);
        if (left.length) throw new VerificationError(`helm upgrade did not restore the role annotation: ${left.join('; ')}`);
        await restartStalePods(config, roleArn);
      },
    };
  }
  if (!pods.stale.length) return undefined;
  return {
    what: `running pods of ${pods.stale.map((sa) => `deployment/${sa}`).join(', ')} in ${config.namespace}`,
    change: 'update',
    note: `${kept}; the pods predate the role on their service account (IRSA reaches pods at creation only): restarted`,
    diff: pods.problems.join('\n'),
    commands: [restartCommand(config, pods.stale), rolloutCommand(config)],
    apply: () => restartStalePods(config, roleArn),
  };
}

export const step = defineStep({
  id: '11',
  name: 'install-gloo',
  title: 'Gloo Edge install',
  // The values file is checked in check(): a dry run (make plan) has not written it yet.
  needs: ['roleArn'],
  // The cluster's answer, the release, its values and the live identity: kubectl and helm
  // processes that run while the earlier steps talk to AWS and Vault.
  prefetch: (ctx) => {
    const reads = early(readCluster(ctx));
    prefetched.set(ctx, reads);
    return reads;
  },

  reference(v) {
    const c = v.config;
    return [...repoCommands(c), installCommand(c, c.valuesFile), rolloutCommand(c), cmd('kubectl', 'get', 'serviceaccount', ...c.serviceAccounts, '-n', c.namespace, '-o', `jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}{"\\n"}{end}`)];
  },

  async check(ctx) {
    const { config, state } = ctx;
    const file = valuesFileOf(ctx);
    const what = `Helm release ${GLOO_RELEASE} (${config.glooHelmChart} ${config.edgeVersion}) in namespace ${config.namespace}`;
    const reads = await clusterReads(ctx);
    if (!reads.cluster) {
      const where = config.kubeconfig ? `KUBECONFIG=${config.kubeconfig}` : 'the current kubeconfig';
      return [{ what: 'Gloo Edge install', change: 'skip', note: `no Kubernetes cluster answers kubectl (${where}); would run: ${installCommand(config, file).replace(/ \\\n\s+/g, ' ')}` }];
    }
    if (!fs.existsSync(file)) {
      if (ctx.mode === 'dry-run') return [{ what, change: 'create', note: `with ${file}, which step 10 writes`, commands: [...repoCommands(config), installCommand(config, file), rolloutCommand(config)] }];
      throw new PrerequisiteError(`step 11 installs Gloo with the values file ${file}, which step 10 writes: run \`make step-10\` first`, '10');
    }
    const wanted = parseValues(fs.readFileSync(file, 'utf8')) as Values;
    const release = reads.release;
    let live: Values = {};
    const notes: string[] = [];
    const diff: string[] = [];
    let destructive = false;
    if (release) {
      live = reads.values ?? {};
      const plan = planValues(live, wanted);
      const installed = chartVersionOf(release.chart, 'gloo');
      const downgrade = isDowngrade(config.edgeVersion, installed);
      if (isDeepStrictEqual(plan.merged, live) && !downgrade && release.status === 'deployed') {
        const kept = `${release.chart}, ${release.status}, values as in ${file}${leavesOutside(live, wanted).length ? `; the user's own values kept: ${leavesOutside(live, wanted).join(', ')}` : ''}`;
        // The live identity as read with the release (for the role ARN of now), else read now.
        const roleArn = state.get('roleArn')!;
        const read = await (reads.identity?.roleArn === roleArn ? reads.identity.read : readIdentity(config, roleArn));
        const drift = await liveIdentityDrift(ctx, file, hasUserValuesOf(live), kept, read);
        if (!drift && !read.pods.problems.length) provenByCheck.set(ctx, read);
        return [drift ?? { what, change: 'none', note: kept }];
      }
      diff.push(...plan.changes, ...plan.dropped.map((d) => `DESTRUCTIVE ${d}`));
      if (downgrade) diff.push(`DESTRUCTIVE chart version ${installed} -> ${config.edgeVersion}: older than the installed chart`);
      destructive = plan.dropped.length > 0 || downgrade;
      if (plan.changes.length || plan.dropped.length) notes.push(`values differ from ${file}; the user's other values are kept`);
      if (release.status !== 'deployed') notes.push(`release is ${release.status}`);
      if (downgrade) notes.push(`moves the chart back from ${installed} to ${config.edgeVersion}`);
    }
    const hasUserValues = Object.keys(live).length > 0;
    return [{
      what,
      change: release ? 'update' : 'create',
      ...(notes.length ? { note: notes.join('; ') } : {}),
      ...(diff.length ? { diff: diff.join('\n') } : {}),
      ...(destructive ? { destructive: true } : {}),
      commands: [...repoCommands(config), ...(hasUserValues ? [userValuesCommand(config)] : []), installCommand(config, file, hasUserValues ? USER_VALUES_FILE : undefined), ...(release ? [raw(`# if the role annotation changed: ${restartCommand(config)}`)] : []), rolloutCommand(config)],
      apply: async () => {
        await ensureChartRepo(config.glooHelmChart, config);
        // The user's values first, the runbook's file over them (helm merges -f files in order).
        const dir = hasUserValues ? fs.mkdtempSync(path.join(os.tmpdir(), 'gloo-user-values-')) : undefined;
        const userFile = dir ? path.join(dir, 'values.json') : undefined;
        if (userFile) fs.writeFileSync(userFile, JSON.stringify(live), { mode: 0o600 });
        try {
          await helmUpgradeInstall({ release: GLOO_RELEASE, chart: config.glooHelmChart, namespace: config.namespace, version: config.edgeVersion, values: userFile ? [userFile, file] : file, extra: ['--wait', '--timeout', '10m'], config });
        } finally {
          if (dir) fs.rmSync(dir, { recursive: true, force: true });
        }
        if (!release) recordCreated(ctx, { kind: 'helm-release', namespace: config.namespace, release: GLOO_RELEASE });
        await kubectl(['rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=300s'], { config, timeoutMs: 320_000 });
        await restartStalePods(config, state.get('roleArn')!);
      },
    }];
  },

  async verify(ctx) {
    const { config, state } = ctx;
    const roleArn = state.get('roleArn')!;
    await kubectl(['rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=120s'], { config, timeoutMs: 140_000 });
    // After a check that changed nothing, what it read is still what is there.
    const proven = provenByCheck.get(ctx);
    provenByCheck.delete(ctx);
    const { annotations: problems, pods } = proven ?? (await readIdentity(config, roleArn));
    if (problems.length) throw new VerificationError(problems.join('; '));
    if (pods.problems.length) throw new VerificationError(pods.problems.join('; '));
    return `deployments in ${config.namespace} rolled out; ${config.serviceAccounts.join(' and ')} carry ${ROLE_ANNOTATION}=${roleArn}; ${pods.pods} running pod(s) have AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE`;
  },

  teardown: (ctx) => deleteHelmReleases(ctx, ctx.state.createdBy(ctx.stepId, 'helm-release')),

  teardownReference: (v) => [cmd('helm', 'uninstall', GLOO_RELEASE, '-n', v.config.namespace)],
});

if (isMain(import.meta.url)) void main([step]);
