// Step 04: a Vault for the guide (SPEC §04). Where VAULT_ADDR already answers
// (the lab, or an existing Vault) nothing is installed. Otherwise the chart
// hashicorp/vault goes into the cluster in DEV MODE, with the Vault server's
// own IRSA role from step 03 on its service account. Also home of vaultOf():
// how steps 05-09 reach Vault, through a port-forward of their own when it
// runs in the cluster.
import { defineStep, type Action, type Ctx } from '../lib/step.js';
import { ConfigError, PrerequisiteError, RemoteError, RunbookError, VerificationError } from '../lib/errors.js';
import { Vault } from '../lib/vault.js';
import { hasKubeCluster, kubectl, portForward } from '../lib/kube.js';
import { helmRelease, helmRepoAdd, helmUpgradeInstall, helmValues } from '../lib/helm.js';
import { cmd, raw, vaultCli } from '../lib/shell.js';
import { fieldDiff } from '../lib/diff.js';
import { DEV_MODE_WARNING, VAULT_ROLE_ANNOTATION_KEY, continued, vaultHelmSet } from '../lib/vault-documents.js';
import type { Config } from '../lib/config.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const VAULT_RELEASE = 'vault';
export const VAULT_CHART = 'hashicorp/vault';
export const VAULT_REPO = { name: 'hashicorp', url: 'https://helm.releases.hashicorp.com' };
export const VAULT_POD = 'vault-0';
const NET = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN/;

// ---- reaching Vault ----------------------------------------------------------

function isUnreachable(err: unknown): boolean {
  return err instanceof RemoteError && err.service === 'vault' && Boolean(err.code && NET.test(err.code));
}

function isLoopback(addr: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(addr).hostname);
  } catch {
    return false;
  }
}

/** vault-0 in the cluster, if kubectl answers and the pod exists. */
async function inClusterVaultPod(config: Config): Promise<boolean> {
  if (!(await hasKubeCluster(config))) return false;
  try {
    await kubectl(['get', 'pod', VAULT_POD, '-n', config.vaultK8sNamespace, '-o', 'name'], { config, timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const reached = new WeakMap<Ctx, Promise<Vault>>();

/**
 * The Vault to talk to: VAULT_ADDR when it answers; otherwise, when VAULT_ADDR
 * is on this machine (as after the guide's port-forward) and vault-0 runs in the
 * cluster, a kubectl port-forward opened for this run and closed when it ends.
 * No token needed (sys/health).
 */
export function reachVault(ctx: Ctx): Promise<Vault> {
  let p = reached.get(ctx);
  if (!p) {
    p = connect(ctx);
    reached.set(ctx, p);
    p.catch(() => reached.delete(ctx));
  }
  return p;
}

async function connect(ctx: Ctx): Promise<Vault> {
  const { config } = ctx;
  try {
    await ctx.vault.health();
    return ctx.vault;
  } catch (err) {
    if (!isUnreachable(err) || !isLoopback(config.vaultAddr) || !(await inClusterVaultPod(config))) throw err;
    const pf = await portForward(config.vaultK8sNamespace, `pod/${VAULT_POD}`, undefined, 8200, { config, unref: true });
    const vault = new Vault({ vaultAddr: pf.url, vaultToken: config.vaultToken });
    await vault.health();
    log.line(`  Vault at VAULT_ADDR=${config.vaultAddr} does not answer: reaching ${VAULT_POD} in namespace ${config.vaultK8sNamespace} through kubectl port-forward on ${pf.url} (closed when this run ends)`);
    return vault;
  }
}

/** The Vault for configuration calls: needs VAULT_TOKEN. */
export async function vaultOf(ctx: Ctx): Promise<Vault> {
  if (!ctx.config.vaultToken) {
    throw new ConfigError('VAULT_TOKEN is not set: export the token of your Vault in it (lab: eval "$(make -s lab-env)"; the guide\'s dev-mode Vault uses the token "root")');
  }
  return reachVault(ctx);
}

/** Steps 08 and 09 write under the auth mount step 05 enables. */
export async function requireAuthMount(ctx: Ctx, vault: Vault, stepId: string): Promise<boolean> {
  const mounts = await vault.read('sys/auth');
  const table = ((mounts?.data as Record<string, unknown> | undefined) ?? mounts ?? {}) as Record<string, { type?: string }>;
  const m = table[`${ctx.config.authMount}/`];
  if (m?.type === 'aws') return true;
  if (ctx.mode === 'dry-run') return false;
  throw new PrerequisiteError(`step ${stepId} needs the aws auth method at ${ctx.config.authMount}/ in Vault, which step 05 enables: run \`make step-05\` first`, '05');
}

// ---- the install ---------------------------------------------------------------

function serverRoleArn(ctx: Pick<Ctx, 'config' | 'state'>): string | undefined {
  return ctx.config.vaultServerIdentity === 'role' ? ctx.state.get('vaultServerRoleArn') : undefined;
}

/** Pure: the manual install, as the guide gives it (plus the Vault server's IRSA role). */
export function installCommands(config: Config, roleArn: string | undefined): string[] {
  const sets = Object.entries(vaultHelmSet(undefined)).map(([k, v]) => ['--set', `${k}=${v}`]);
  // The annotation key has escaped dots: double quotes keep both the \. and a $VAR.
  const helm = continued(['helm', 'upgrade', '--install', VAULT_RELEASE, VAULT_CHART], ['-n', config.vaultK8sNamespace, '--create-namespace'], ...sets)
    + (roleArn ? ` \\\n    --set "${VAULT_ROLE_ANNOTATION_KEY}=${roleArn}"` : '');
  return [
    raw(`# WARNING: ${DEV_MODE_WARNING}`),
    cmd('helm', 'repo', 'add', VAULT_REPO.name, VAULT_REPO.url),
    cmd('helm', 'repo', 'update'),
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
  };
}

function wantedFlat(roleArn: string | undefined): Record<string, unknown> {
  return {
    'server.dev.enabled': true,
    'injector.enabled': false,
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
  const what = `Helm release ${VAULT_RELEASE} (${VAULT_CHART}, DEV MODE) in namespace ${ns}`;
  const release = await helmRelease(VAULT_RELEASE, ns, config);
  let diff: string | undefined;
  if (release) {
    diff = fieldDiff(flatHelmValues(await helmValues(VAULT_RELEASE, ns, config)), wantedFlat(roleArn));
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
      await helmRepoAdd(VAULT_REPO.name, VAULT_REPO.url, config);
      await helmUpgradeInstall({ release: VAULT_RELEASE, chart: VAULT_CHART, namespace: ns, set: vaultHelmSet(roleArn), extra: ['--wait', '--timeout', '10m'], config });
      await kubectl(['wait', '--for=condition=Ready', `pod/${VAULT_POD}`, '-n', ns, '--timeout=300s'], { config });
      ctx.state.markCreated(`helm-release:${ns}/${VAULT_RELEASE}`);
    },
  };
}

export const step = defineStep({
  id: '04',
  name: 'install-vault',
  title: 'Vault (dev mode: guide and lab only)',

  reference(v) {
    return installCommands(v.config, v.config.vaultServerIdentity === 'role' ? v.vaultServerRoleArn : undefined);
  },

  async check(ctx) {
    const { config } = ctx;
    try {
      const h = await ctx.vault.health();
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
      vault = await reachVault(ctx);
    } catch (err) {
      throw new VerificationError(`Vault did not answer after the install: ${err instanceof RunbookError ? err.message : String(err)}`);
    }
    const h = await vault.health();
    if (!h.initialized || h.sealed) throw new VerificationError(`Vault at ${vault.addr} answers but is ${h.initialized ? 'sealed' : 'not initialized'}`);
    return `Vault ${h.version ?? ''} at ${vault.addr} is initialized and unsealed`.replace('  ', ' ');
  },
});

if (isMain(import.meta.url)) await main([step]);
