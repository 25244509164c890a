// Step 04: a Vault for the guide (GUIDE §04). Where VAULT_ADDR already answers
// (the lab, or an existing Vault) nothing is installed. Otherwise the chart
// hashicorp/vault goes into the cluster in DEV MODE, with the Vault server's
// own IRSA role from step 03 on its service account.
import { defineStep, recordCreated, type Action, type Ctx } from '../lib/step.js';
import { PrerequisiteError, RemoteError, RunbookError, VerificationError } from '../lib/errors.js';
import { Vault } from '../lib/vault.js';
import { hasKubeCluster, kubectl } from '../lib/kube.js';
import { VAULT_POD, isUnreachable } from '../lib/vault-reach.js';
import { deleteHelmReleases } from '../lib/delete.js';
import { chartRepo, ensureChartRepo, helmRelease, helmUpgradeInstall, helmValues } from '../lib/helm.js';
import { cmd, raw, vaultCli } from '../lib/shell.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { chartVersionOf, planValues, type Values } from '../lib/helm-values.js';
import { DEV_MODE_WARNING, VAULT_ROLE_ANNOTATION_KEY, continued, vaultHelmSet, vaultHelmValues } from '../lib/vault-documents.js';
import type { Config } from '../lib/config.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const VAULT_RELEASE = 'vault';
/** How long `helm --wait` waits for Vault's pod before the install counts as failed. */
export const HELM_WAIT = '10m';

// ---- the install ---------------------------------------------------------------

function serverRoleArn(ctx: Pick<Ctx, 'config' | 'state'>): string | undefined {
  return ctx.config.vaultServerIdentity === 'role' ? ctx.state.get('vaultServerRoleArn') : undefined;
}

/** Pure: the manual install, as the guide gives it (plus the Vault server's IRSA role). */
export function installCommands(config: Config, roleArn: string | undefined, opts: { userFile?: string; version?: string } = {}): string[] {
  const repo = chartRepo(config.vaultHelmChart);
  const sets = Object.entries(vaultHelmSet(undefined, config.vaultServiceAccount)).map(([k, v]) => ['--set', `${k}=${v}`]);
  // The annotation key has escaped dots: double quotes keep both the \. and a $VAR.
  const helm = continued(['helm', 'upgrade', '--install', VAULT_RELEASE, config.vaultHelmChart], ['-n', config.vaultK8sNamespace, '--create-namespace'], ...(opts.version ? [['--version', opts.version]] : []), ...(opts.userFile ? [['--values', opts.userFile]] : []), ...sets)
    + (roleArn ? ` \\\n    --set "${VAULT_ROLE_ANNOTATION_KEY}=${roleArn}"` : '');
  return [
    raw(`# WARNING: ${DEV_MODE_WARNING}`),
    ...(repo ? [cmd('helm', 'repo', 'add', repo.name, repo.url), cmd('helm', 'repo', 'update')] : []),
    helm,
    // helm returns before the StatefulSet has made vault-0 (the chart's OnDelete strategy is not
    // waited for), and `kubectl wait` on a pod that does not exist yet fails at once: wait for
    // the pod to exist (2 min at most), then for it to be Ready.
    raw(
      [
        `for i in $(seq 60); do ${cmd('kubectl', 'get', `pod/${VAULT_POD}`, '-n', config.vaultK8sNamespace)} >/dev/null 2>&1 && break; sleep 2; done`,
        cmd('kubectl', 'wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', config.vaultK8sNamespace, '--timeout=300s'),
      ].join('\n'),
    ),
    vaultCli(config.vaultK8sNamespace, 'status'),
  ];
}

/** Where the manual commands keep the release's user values before an upgrade. */
export const USER_VALUES_FILE = 'vault-user-values.yaml';

const ROLE_KEY = 'eks.amazonaws.com/role-arn';

function at(v: Values, ...path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Values)[k] : undefined), v);
}

/** Pure: true when the release's values run Vault in dev mode (memory only). */
export function isDevMode(values: Values): boolean {
  const v = at(values, 'server', 'dev', 'enabled');
  return v === true || v === 'true';
}

/** Pure: the Vault server role annotation a release's values carry. */
export function roleAnnotationOf(values: Values): string | undefined {
  const v = at(values, 'server', 'serviceAccount', 'annotations', ROLE_KEY);
  return typeof v === 'string' && v ? v : undefined;
}

export interface VaultReleasePlan {
  /** Values after the upgrade: the user's with the runbook's over them. */
  merged: Values;
  /** Diff lines; destructive ones start with DESTRUCTIVE. */
  diff: string[];
  destructive: boolean;
  /** vault-0 must be deleted (OnDelete) to pick up a new identity. */
  restart: boolean;
  /** Nothing to do: no Helm write, no restart. */
  none: boolean;
}

/**
 * Pure: what step 04 does to an existing `vault` release with user values `live`.
 * Turning dev mode on for a release that is not in dev mode loses its data on the
 * next restart; a dropped user value too: both destructive. A changed role
 * annotation needs vault-0 deleted (the chart's StatefulSet updates OnDelete):
 * automatic in dev mode (memory only), destructive otherwise.
 */
export function planVaultRelease(live: Values, roleArn: string | undefined, serviceAccount: string): VaultReleasePlan {
  const plan = planValues(live, vaultHelmValues(roleArn, serviceAccount));
  const diff = [...plan.changes];
  const dev = isDevMode(live);
  if (!dev) diff.push(`DESTRUCTIVE server.dev.enabled turned on for a release not in dev mode: Vault's storage, HA, TLS and listeners are replaced by an in-memory dev server; its data is lost when vault-0 next restarts`);
  diff.push(...plan.dropped.map((d) => `DESTRUCTIVE ${d}`));
  const restart = !!roleArn && roleAnnotationOf(live) !== roleArn;
  if (restart) {
    diff.push(dev
      ? `vault-0 is deleted so it picks up the new role (StatefulSet updates OnDelete; dev mode: in memory, nothing kept)`
      : `DESTRUCTIVE vault-0 is deleted so it picks up the new role (StatefulSet updates OnDelete): it restarts as configured now`);
  }
  const none = isDeepStrictEqual(plan.merged, live) && !restart;
  return { merged: plan.merged, diff, destructive: !dev || plan.dropped.length > 0 || (restart && !dev), restart, none };
}

/** The UID of vault-0, or undefined when there is none. */
async function podUid(ns: string, config: Config): Promise<string | undefined> {
  try {
    return JSON.parse(await kubectl(['get', 'pod', VAULT_POD, '-n', ns, '-o', 'json'], { config })).metadata?.uid as string | undefined;
  } catch {
    return undefined;
  }
}

/** Deletes vault-0 and waits for the StatefulSet to create it again, Ready. */
async function restartVaultPod(ns: string, config: Config): Promise<void> {
  const before = await podUid(ns, config);
  log.line(`      deleting ${VAULT_POD} in ${ns} (StatefulSet updateStrategy OnDelete) so it starts with the new role`);
  try {
    await kubectl(['delete', 'pod', VAULT_POD, '-n', ns, '--ignore-not-found', '--wait=false'], { config, timeoutMs: 60_000 });
  } catch (err) {
    // The StatefulSet may have replaced the pod meanwhile: only a pod still there with the old UID is a failure.
    if ((await podUid(ns, config)) === before) throw err;
  }
  const deadline = Date.now() + 180_000;
  for (;;) {
    const uid = await podUid(ns, config);
    if (uid && uid !== before) break;
    if (Date.now() > deadline) throw new RemoteError('kubectl', `get pod ${VAULT_POD}`, `${VAULT_POD} in ${ns} was deleted but the StatefulSet did not create it again within 180 s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  await kubectl(['wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', ns, '--timeout=300s'], { config, timeoutMs: 320_000 });
}

async function installAction(ctx: Ctx): Promise<Action> {
  const { config } = ctx;
  const ns = config.vaultK8sNamespace;
  const roleArn = serverRoleArn(ctx);
  if (config.vaultServerIdentity === 'role' && !roleArn) {
    throw new PrerequisiteError('step 04 annotates the Vault service account with the Vault server role, which step 03 creates: run `make step-03` first (or VAULT_SERVER_IDENTITY=node to reproduce the guide)', '03');
  }
  const what = `Helm release ${VAULT_RELEASE} (${config.vaultHelmChart}, DEV MODE) in namespace ${ns}`;
  const release = await helmRelease(VAULT_RELEASE, ns, config);
  let live: Values = {};
  let plan: VaultReleasePlan | undefined;
  // On an existing release the chart stays at its installed version: no implicit upgrade, never a downgrade.
  let version: string | undefined;
  if (release) {
    live = await helmValues(VAULT_RELEASE, ns, config);
    plan = planVaultRelease(live, roleArn, config.vaultServiceAccount);
    if (plan.none && release.status === 'deployed') return { what, change: 'none', note: `${release.chart}, ${release.status}` };
    if (chartRepo(config.vaultHelmChart)) version = chartVersionOf(release.chart, 'vault');
  }
  log.warn(DEV_MODE_WARNING);
  const hasUserValues = Object.keys(live).length > 0;
  const notes = ['DEV MODE: in memory, unsealed, root token "root", no TLS — guide and lab only'];
  if (release) notes.push(`upgrades the existing release (${release.chart}, ${release.status}) keeping the user's other values`);
  const userValuesCmd = raw(`${cmd('helm', 'get', 'values', VAULT_RELEASE, '-n', ns, '-o', 'yaml')} > ${USER_VALUES_FILE}`);
  const manual = installCommands(config, roleArn, { userFile: hasUserValues ? USER_VALUES_FILE : undefined, version });
  const helmAt = manual.findIndex((l) => l.startsWith('helm upgrade'));
  const commands = [
    ...manual.slice(0, helmAt),
    ...(hasUserValues ? [userValuesCmd] : []),
    manual[helmAt]!,
    ...(plan?.restart ? [cmd('kubectl', 'delete', 'pod', VAULT_POD, '-n', ns)] : []),
    ...manual.slice(helmAt + 1),
  ];
  return {
    what,
    change: release ? 'update' : 'create',
    note: notes.join('; '),
    ...(plan?.diff.length ? { diff: plan.diff.join('\n') } : {}),
    ...(plan?.destructive ? { destructive: true } : {}),
    commands,
    apply: async () => {
      await ensureChartRepo(config.vaultHelmChart, config);
      // The user's values first, the runbook's --set over them (helm: --set wins over -f).
      const dir = hasUserValues ? fs.mkdtempSync(path.join(os.tmpdir(), 'vault-user-values-')) : undefined;
      const userFile = dir ? path.join(dir, 'values.json') : undefined;
      if (userFile) fs.writeFileSync(userFile, JSON.stringify(live), { mode: 0o600 });
      try {
        await helmUpgradeInstall({ release: VAULT_RELEASE, chart: config.vaultHelmChart, namespace: ns, ...(version ? { version } : {}), ...(userFile ? { values: userFile } : {}), set: vaultHelmSet(roleArn, config.vaultServiceAccount), extra: ['--wait', '--timeout', HELM_WAIT], config });
      } catch (err) {
        // helm --wait gave up: say what to look at (the pod), still one sentence.
        if (err instanceof RemoteError && /deadline exceeded|timed out waiting/i.test(err.message))
          throw new RemoteError('helm', err.action, `${err.message}: Vault's pod was not Ready within ${HELM_WAIT} (see \`kubectl get pods -n ${ns}\` and \`kubectl describe pod ${VAULT_POD} -n ${ns}\`: image pull, CPU and memory), then run step 04 again`, err.code);
        throw err;
      } finally {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }
      if (!release) recordCreated(ctx, { kind: 'helm-release', namespace: ns, release: VAULT_RELEASE });
      // The webhook injects the role at pod creation only, and the StatefulSet updates OnDelete.
      if (plan?.restart) await restartVaultPod(ns, config);
      else await kubectl(['wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', ns, '--timeout=300s'], { config, timeoutMs: 320_000 });
    },
  };
}

export const step = defineStep({
  id: '04',
  name: 'install-vault',
  title: 'Vault (dev mode: guide and lab only)',

  reference(v) {
    return [
      ...installCommands(v.config, v.config.vaultServerIdentity === 'role' ? v.vaultServerRoleArn : undefined),
      raw(`# Reach it at VAULT_ADDR (the configuration block), as step 12 does from here\nkubectl port-forward -n ${v.config.vaultK8sNamespace} svc/vault 8200:8200 >/dev/null 2>&1 &`),
    ];
  },

  async check(ctx) {
    const { config } = ctx;
    try {
      const h = await new Vault(config).health();
      const status = `${h.version ? `Vault ${h.version}, ` : ''}${h.initialized ? 'initialized' : 'NOT initialized'}, ${h.sealed ? 'SEALED' : 'unsealed'}`;
      return [{ what: 'Vault install', change: 'skip', note: `a Vault already answers at VAULT_ADDR=${config.vaultAddr} (${status}): using it, installing nothing` }];
    } catch (err) {
      if (!isUnreachable(err)) throw err;
      if (!(await hasKubeCluster(config))) {
        throw new RemoteError('vault', 'GET sys/health', `Vault at VAULT_ADDR=${config.vaultAddr} does not answer and kubectl reaches no cluster${config.kubeconfig ? ` (KUBECONFIG=${config.kubeconfig})` : ''}: for the lab run \`make lab-up\`; for EKS set KUBECONFIG; for an existing Vault set VAULT_ADDR and VAULT_TOKEN`, (err as RemoteError).code);
      }
    }
    return [await installAction(ctx)];
  },

  async verify(ctx) {
    let vault: Vault;
    try {
      vault = await ctx.reach();
    } catch (err) {
      throw new VerificationError(`Vault did not answer after the install: ${err instanceof RunbookError ? err.message : String(err)}`);
    }
    const h = await vault.health();
    if (!h.initialized || h.sealed) throw new VerificationError(`Vault at ${vault.addr} answers but is ${h.initialized ? 'sealed' : 'not initialized'}`);
    return `Vault ${h.version ?? ''} at ${vault.addr} is initialized and unsealed`.replace('  ', ' ');
  },

  teardown: (ctx) => deleteHelmReleases(ctx, ctx.state.createdBy(ctx.stepId, 'helm-release')),

  teardownReference: (v) => [cmd('helm', 'uninstall', VAULT_RELEASE, '-n', v.config.vaultK8sNamespace)],
});

if (isMain(import.meta.url)) void main([step]);
