// How the runbook reaches Vault, set up once per run by the runner for the
// steps that declare `vault`: VAULT_ADDR when it answers; otherwise, when
// VAULT_ADDR is on this machine (as after the guide's port-forward) and vault-0
// runs in the cluster, a kubectl port-forward opened for this run and closed
// when it ends. Also the checks Vault steps share (token, auth mount).
import type { Config } from './config.js';
import type { Ctx } from './step.js';
import { ConfigError, PrerequisiteError, RemoteError } from './errors.js';
import { Vault } from './vault.js';
import { hasKubeCluster, kubectl, portForward } from './kube.js';
import * as log from './log.js';

export const VAULT_POD = 'vault-0';
const NET = /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN/;

export function isUnreachable(err: unknown): boolean {
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

/** The Vault to talk to (no token needed: sys/health). */
export async function reachVault(config: Config): Promise<Vault> {
  const direct = new Vault(config);
  try {
    await direct.health();
    return direct;
  } catch (err) {
    if (!isUnreachable(err) || !isLoopback(config.vaultAddr) || !(await inClusterVaultPod(config))) throw err;
    const pf = await portForward(config.vaultK8sNamespace, `pod/${VAULT_POD}`, undefined, 8200, { config, unref: true });
    const vault = new Vault({ vaultAddr: pf.url, vaultToken: config.vaultToken });
    await vault.health();
    log.line(`  Vault at VAULT_ADDR=${config.vaultAddr} does not answer: reaching ${VAULT_POD} in namespace ${config.vaultK8sNamespace} through kubectl port-forward on ${pf.url} (closed when this run ends)`);
    return vault;
  }
}

/** Configuration calls need VAULT_TOKEN: one sentence when it is missing. */
export function requireVaultToken(config: Config): void {
  if (!config.vaultToken) {
    throw new ConfigError('VAULT_TOKEN is not set: export the token of your Vault in it (lab: eval "$(make -s lab-env)"; the guide\'s dev-mode Vault uses the token "root")');
  }
}

/** Steps 08 and 09 write under the auth mount step 05 enables: false in a dry run before it exists. */
export async function requireAuthMount(ctx: Ctx, stepId: string): Promise<boolean> {
  const m = await ctx.vault.mountEntry('sys/auth', ctx.config.authMount);
  if (m?.type === 'aws') return true;
  if (ctx.mode === 'dry-run') return false;
  throw new PrerequisiteError(`step ${stepId} needs the aws auth method at ${ctx.config.authMount}/ in Vault, which step 05 enables: run \`make step-05\` first`, '05');
}

/**
 * Step.prefetch of the Vault steps: their reads, sent at the start of a run to the Vault
 * at VAULT_ADDR when it answers (the one reach() then returns, whose read cache check()
 * uses). Nothing without VAULT_TOKEN or a Vault that answers.
 */
export async function prefetchVault(ctx: Ctx, ...paths: string[]): Promise<unknown> {
  if (!ctx.config.vaultToken) return undefined;
  const vault = await ctx.reachEarly();
  return vault ? Promise.all(paths.map((p) => vault.read(p))) : undefined;
}
