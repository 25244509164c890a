// Step 11: Gloo Edge itself (SPEC §11): helm upgrade --install with the
// overrides from step 10, wait for the rollout, then check that the gloo and
// discovery service accounts carry the IRSA role annotation. Without a
// Kubernetes cluster (the lab) the step says it is skipped, why, and the
// command that would run.
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { defineStep, recordCreated, type Ctx } from '../lib/step.js';
import { deleteHelmReleases } from '../lib/delete.js';
import { PrerequisiteError, VerificationError } from '../lib/errors.js';
import { cmd, raw } from '../lib/shell.js';
import type { Config } from '../lib/config.js';
import { GLOO_RELEASE, ROLE_ANNOTATION, parseValues } from '../lib/gloo-values.js';
import { hasKubeCluster, kubectl } from '../lib/kube.js';
import { ensureChartRepo, glooRepoCommands, helmRelease, helmUpgradeInstall, helmValues } from '../lib/helm.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

/** Pure: the install command exactly as a person would type it. */
export function installCommand(config: Config, file: string): string {
  return cmd('helm', 'upgrade', '--install', GLOO_RELEASE, config.glooHelmChart, '-n', config.namespace, '--create-namespace', '--version', config.edgeVersion, '--values', file);
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

/** The annotations of the service accounts, checked against the role ARN: the problems. */
async function annotationProblems(config: Config, roleArn: string): Promise<string[]> {
  const problems: string[] = [];
  for (const sa of config.serviceAccounts) {
    let got: string | undefined;
    try {
      const obj = JSON.parse(await kubectl(['get', 'serviceaccount', sa, '-n', config.namespace, '-o', 'json'], { config })) as { metadata?: { annotations?: Record<string, string> } };
      got = obj.metadata?.annotations?.[ROLE_ANNOTATION];
    } catch (err) {
      problems.push(`service account ${config.namespace}/${sa}: ${(err as Error).message}`);
      continue;
    }
    if (got !== roleArn) problems.push(`service account ${config.namespace}/${sa} has ${ROLE_ANNOTATION}=${got ?? '(none)'}, wanted ${roleArn}`);
  }
  return problems;
}

interface PodList {
  items: { metadata: { name: string; deletionTimestamp?: string }; status?: { phase?: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } }[];
}

/**
 * The RUNNING pods of each service account's deployment (label gloo=<sa>, as the
 * chart sets it) must carry the IRSA environment EKS's webhook injects at pod
 * creation: AWS_ROLE_ARN = the role and AWS_WEB_IDENTITY_TOKEN_FILE. A pod created
 * before the annotation has neither, whatever the service account says now.
 */
async function podIdentityProblems(config: Config, roleArn: string): Promise<{ problems: string[]; pods: number }> {
  const problems: string[] = [];
  let pods = 0;
  for (const sa of config.serviceAccounts) {
    const list = JSON.parse(await kubectl(['get', 'pods', '-n', config.namespace, '-l', `gloo=${sa}`, '-o', 'json'], { config })) as PodList;
    const running = list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    if (!running.length) problems.push(`no running pod with label gloo=${sa} in ${config.namespace}`);
    for (const p of running) {
      pods++;
      const env = Object.fromEntries((p.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      if (env.AWS_ROLE_ARN !== roleArn) problems.push(`pod ${config.namespace}/${p.metadata.name} runs with AWS_ROLE_ARN=${env.AWS_ROLE_ARN ?? '(none)'}, wanted ${roleArn} (restart it: ${restartCommand(config)})`);
      else if (!env.AWS_WEB_IDENTITY_TOKEN_FILE) problems.push(`pod ${config.namespace}/${p.metadata.name} has no AWS_WEB_IDENTITY_TOKEN_FILE: is the EKS pod identity webhook running?`);
    }
  }
  return { problems, pods };
}

function restartCommand(config: Config): string {
  return cmd('kubectl', 'rollout', 'restart', ...config.serviceAccounts.map((sa) => `deployment/${sa}`), '-n', config.namespace);
}

/** The role annotation each service account has now (before an upgrade). */
async function currentAnnotations(config: Config): Promise<(string | undefined)[]> {
  return Promise.all(
    config.serviceAccounts.map(async (sa) => {
      try {
        const obj = JSON.parse(await kubectl(['get', 'serviceaccount', sa, '-n', config.namespace, '-o', 'json'], { config })) as { metadata?: { annotations?: Record<string, string> } };
        return obj.metadata?.annotations?.[ROLE_ANNOTATION];
      } catch {
        return undefined;
      }
    }),
  );
}

export const step = defineStep({
  id: '11',
  name: 'install-gloo',
  title: 'Gloo Edge install',
  // The values file is checked in check(): a dry run (make plan) has not written it yet.
  needs: ['roleArn'],

  reference(v) {
    const c = v.config;
    return [...repoCommands(c), installCommand(c, c.valuesFile), rolloutCommand(c), cmd('kubectl', 'get', 'serviceaccount', ...c.serviceAccounts, '-n', c.namespace, '-o', `jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}{"\\n"}{end}`)];
  },

  async check(ctx) {
    const { config, state } = ctx;
    const file = valuesFileOf(ctx);
    const what = `Helm release ${GLOO_RELEASE} (${config.glooHelmChart} ${config.edgeVersion}) in namespace ${config.namespace}`;
    if (!(await hasKubeCluster(config))) {
      const where = config.kubeconfig ? `KUBECONFIG=${config.kubeconfig}` : 'the current kubeconfig';
      return [{ what: 'Gloo Edge install', change: 'skip', note: `no Kubernetes cluster answers kubectl (${where}); would run: ${installCommand(config, file).replace(/ \\\n\s+/g, ' ')}` }];
    }
    if (!fs.existsSync(file)) {
      if (ctx.mode === 'dry-run') return [{ what, change: 'create', note: `with ${file}, which step 10 writes`, commands: [...repoCommands(config), installCommand(config, file), rolloutCommand(config)] }];
      throw new PrerequisiteError(`step 11 installs Gloo with the values file ${file}, which step 10 writes: run \`make step-10\` first`, '10');
    }
    const wanted = parseValues(fs.readFileSync(file, 'utf8'));
    const release = await helmRelease(GLOO_RELEASE, config.namespace, config);
    let note: string | undefined;
    if (release) {
      const same = isDeepStrictEqual(await helmValues(GLOO_RELEASE, config.namespace, config), wanted);
      if (same && release.status === 'deployed') return [{ what, change: 'none', note: `${release.chart}, ${release.status}, values as in ${file}` }];
      note = same ? `release is ${release.status}` : `values differ from ${file}`;
    }
    return [{
      what,
      change: release ? 'update' : 'create',
      ...(note ? { note } : {}),
      commands: [...repoCommands(config), installCommand(config, file), ...(release ? [raw(`# if the role annotation changed: ${restartCommand(config)}`)] : []), rolloutCommand(config)],
      apply: async () => {
        const before = release ? await currentAnnotations(config) : [];
        await ensureChartRepo(config.glooHelmChart, config);
        await helmUpgradeInstall({ release: GLOO_RELEASE, chart: config.glooHelmChart, namespace: config.namespace, version: config.edgeVersion, values: file, extra: ['--wait', '--timeout', '10m'], config });
        if (!release) recordCreated(ctx, { kind: 'helm-release', namespace: config.namespace, release: GLOO_RELEASE });
        // The webhook injects the role at pod creation only: pods made under another
        // (or no) annotation keep their old identity until they are replaced.
        if (release && before.some((a) => a !== state.get('roleArn'))) {
          await kubectl(['rollout', 'restart', ...config.serviceAccounts.map((sa) => `deployment/${sa}`), '-n', config.namespace], { config });
        }
        await kubectl(['rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=300s'], { config, timeoutMs: 320_000 });
      },
    }];
  },

  async verify(ctx) {
    const { config, state } = ctx;
    const roleArn = state.get('roleArn')!;
    await kubectl(['rollout', 'status', 'deployment', '-n', config.namespace, '--timeout=120s'], { config, timeoutMs: 140_000 });
    const problems = await annotationProblems(config, roleArn);
    if (problems.length) throw new VerificationError(problems.join('; '));
    const pods = await podIdentityProblems(config, roleArn);
    if (pods.problems.length) throw new VerificationError(pods.problems.join('; '));
    return `deployments in ${config.namespace} rolled out; ${config.serviceAccounts.join(' and ')} carry ${ROLE_ANNOTATION}=${roleArn}; ${pods.pods} running pod(s) have AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE`;
  },

  teardown: (ctx) => deleteHelmReleases(ctx, ctx.state.createdBy(ctx.stepId, 'helm-release')),

  teardownReference: (v) => [cmd('helm', 'uninstall', GLOO_RELEASE, '-n', v.config.namespace)],
});

if (isMain(import.meta.url)) await main([step]);
