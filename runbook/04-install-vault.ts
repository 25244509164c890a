// Step 04: a Vault for the guide (SPEC §04). Where VAULT_ADDR already answers
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
import { fieldDiff } from '../lib/diff.js';
import { DEV_MODE_WARNING, VAULT_ROLE_ANNOTATION_KEY, continued, vaultHelmSet } from '../lib/vault-documents.js';
import type { Config } from '../lib/config.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const VAULT_RELEASE = 'vault';

// ---- the install ---------------------------------------------------------------

function serverRoleArn(ctx: Pick<Ctx, 'config' | 'state'>): string | undefined {
  return ctx.config.vaultServerIdentity === 'role' ? ctx.state.get('vaultServerRoleArn') : undefined;
}

/** Pure: the manual install, as the guide gives it (plus the Vault server's IRSA role). */
export function installCommands(config: Config, roleArn: string | undefined): string[] {
  const repo = chartRepo(config.vaultHelmChart);
  const sets = Object.entries(vaultHelmSet(undefined, config.vaultServiceAccount)).map(([k, v]) => ['--set', `${k}=${v}`]);
  // The annotation key has escaped dots: double quotes keep both the \. and a $VAR.
  const helm = continued(['helm', 'upgrade', '--install', VAULT_RELEASE, config.vaultHelmChart], ['-n', config.vaultK8sNamespace, '--create-namespace'], ...sets)
    + (roleArn ? ` \\\n    --set "${VAULT_ROLE_ANNOTATION_KEY}=${roleArn}"` : '');
  return [
    raw(`# WARNING: ${DEV_MODE_WARNING}`),
    ...(repo ? [cmd('helm', 'repo', 'add', repo.name, repo.url), cmd('helm', 'repo', 'update')] : []),
    helm,
    cmd('kubectl', 'wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', config.vaultK8sNamespace, '--timeout=300s'),
    vaultCli(config.vaultK8sNamespace, 'status'),
  ];
}

/** Pure: the managed Helm values, flat, as `helm get values -o json` would hold them. */
export function flatHelmValues(values: Record<string, unknown>): Record<string, unknown> {
  const get = (...path: string[]): unknown => path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), values);
  const bool = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);
  return {
    'server.dev.enabled': bool(get('server', 'dev', 'enabled')),
    'injector.enabled': bool(get('injector', 'enabled')),
    'server.serviceAccount.annotations.eks.amazonaws.com/role-arn': get('server', 'serviceAccount', 'annotations', 'eks.amazonaws.com/role-arn'),
    // Unset, the chart names the service account after the release.
    'server.serviceAccount.name': get('server', 'serviceAccount', 'name') || VAULT_RELEASE,
  };
}

function wantedFlat(roleArn: string | undefined, serviceAccount: string): Record<string, unknown> {
  return {
    'server.dev.enabled': true,
    'injector.enabled': false,
    'server.serviceAccount.name': serviceAccount,
    ...(roleArn ? { 'server.serviceAccount.annotations.eks.amazonaws.com/role-arn': roleArn } : {}),
  };
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
  let diff: string | undefined;
  if (release) {
    diff = fieldDiff(flatHelmValues(await helmValues(VAULT_RELEASE, ns, config)), wantedFlat(roleArn, config.vaultServiceAccount));
    if (!diff && release.status === 'deployed') return { what, change: 'none', note: `${release.chart}, ${release.status}` };
  }
  log.warn(DEV_MODE_WARNING);
  return {
    what,
    change: release ? 'update' : 'create',
    note: 'DEV MODE: in memory, unsealed, root token "root", no TLS — guide and lab only',
    ...(diff ? { diff } : {}),
    commands: installCommands(config, roleArn),
    apply: async () => {
      await ensureChartRepo(config.vaultHelmChart, config);
      await helmUpgradeInstall({ release: VAULT_RELEASE, chart: config.vaultHelmChart, namespace: ns, set: vaultHelmSet(roleArn, config.vaultServiceAccount), extra: ['--wait', '--timeout', '10m'], config });
      await kubectl(['wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', ns, '--timeout=300s'], { config });
      recordCreated(ctx, { kind: 'helm-release', namespace: ns, release: VAULT_RELEASE });
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

if (isMain(import.meta.url)) await main([step]);
