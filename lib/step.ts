// What a step is: a number, a title, the outputs it needs and those it
// provides (with their recovery from live state), and the whole life of its
// resources: check (read live state, return the actions that differ), apply
// (inside each action), verify, and teardown (delete what it made, recognised
// by its state records and tags). The runner in run.ts does the rest the same
// way for all: resolves needs from the registry, reaches Vault once.
import type { Config } from './config.js';
import type { Resource, State, StateKey } from './state.js';
import type { AwsClients } from './aws.js';
import type { Vault } from './vault.js';

export type Mode = 'apply' | 'dry-run' | 'print';

export interface Ctx {
  config: Config;
  state: State;
  mode: Mode;
  yes: boolean;
  /** The step running: what it records as created is its own. */
  stepId: string;
  /** Created on first use; print mode never touches them. */
  readonly aws: AwsClients;
  /** The Vault the runner reached for a step that declares `vault` (port-forward included). */
  readonly vault: Vault;
  /** Reach Vault now (once per run; what `vault` then holds). */
  reach(): Promise<Vault>;
  /**
   * The Vault at VAULT_ADDR if it answers now, else undefined; never a port-forward, never
   * throws. When it answers, it is the Vault reach() then returns (prefetched reads land in
   * its read cache). For Step.prefetch.
   */
  reachEarly(): Promise<Vault | undefined>;
}

/** Record a resource as made by the running step (teardown of that step deletes it). */
export function recordCreated(ctx: Pick<Ctx, 'state' | 'stepId'>, r: Resource): void {
  ctx.state.markCreated(ctx.stepId, r);
}

export type Change = 'create' | 'update' | 'delete' | 'none' | 'skip';

export interface Action {
  /** What the action is about, e.g. `IAM role dev-role-iam-x`. */
  what: string;
  change: Change;
  /** Why: the reason for a skip, or what is already in place. */
  note?: string;
  /** Readable difference between live and wanted (shown for updates). */
  diff?: string;
  /** The exact shell commands a person would type to make this change (dry-run). */
  commands?: string[];
  /** Deletions and replacements ask first unless --yes / CI=true. */
  destructive?: boolean;
  apply?: () => Promise<void>;
}

/** An output a step provides to later steps through the state file. */
export interface Output {
  key: StateKey;
  /** Look it up live when the state file lost it (e.g. GetRole). */
  recover?: (ctx: Ctx) => Promise<string | undefined>;
}

/** Values for the reference: real ones where known, shell variables otherwise. */
export interface RefValues {
  config: Config;
  account: string;
  partition: string;
  issuer: string;
  oidcProvider: string;
  providerArn: string;
  roleArn: string;
  policyArn: string;
  vaultServerRoleArn: string;
}

export interface Step {
  id: string;
  name: string;
  title: string;
  /** Outputs of earlier steps; the runner finds their provider in the registry. */
  needs?: StateKey[];
  provides?: Output[];
  /** The runner reaches Vault before check: `token` also requires VAULT_TOKEN. */
  vault?: 'token' | 'reach';
  /** For a derived step (teardown): the step whose records it works on. */
  owner?: string;
  /** The copy-paste reference: every manual command of the step, from configuration alone. */
  reference(v: RefValues): string[];
  check(ctx: Ctx): Promise<Action[]>;
  /**
   * Reads check() makes that depend on no earlier step of the run. The runner sends every
   * step's at the start of a multi-step run (lib/run.ts), so that independent reads go out
   * at once; the run's read cache (lib/read-cache.ts) hands their answers to check(), and
   * any write in between makes check() read again. Errors are ignored here: check() meets
   * them again and reports them.
   */
  prefetch?(ctx: Ctx): Promise<unknown>;
  /**
   * A process the step will wait for and that depends on nothing the run makes (step 12's
   * web-identity token). The runner starts it before anything else of an applying run
   * (lib/run.ts), single step or many: it then runs on another core while this process
   * loads its clients, instead of being spawned after them. Errors are ignored here, as
   * for prefetch.
   */
  startEarly?(ctx: Ctx): Promise<unknown>;
  /** Prove the result; returns what was proven, throws VerificationError. */
  verify?(ctx: Ctx): Promise<string>;
  /** Delete what this step made (its state records, its tags): the actions, read first. */
  teardown?(ctx: Ctx): Promise<Action[]>;
  /** The manual commands of the teardown. */
  teardownReference?(v: RefValues): string[];
}

/** Shell variables standing for run-time values, named as the guide names them. */
export function shellRefValues(config: Config): RefValues {
  return {
    config,
    account: '${ACCOUNT_ID}',
    partition: config.partition,
    issuer: '${OIDC_ISSUER}',
    oidcProvider: '${OIDC_PROVIDER}',
    providerArn: `arn:${config.partition}:iam::\${ACCOUNT_ID}:oidc-provider/\${OIDC_PROVIDER}`,
    roleArn: '${VAULT_AUTH_ROLE_ARN}',
    policyArn: '${VAULT_AUTH_POLICY_ARN}',
    vaultServerRoleArn: '${VAULT_SERVER_ROLE_ARN}',
  };
}

/** Real values from state, falling back to shell variables for what is not known yet. */
export function liveRefValues(ctx: Pick<Ctx, 'config' | 'state'>): RefValues {
  const s = ctx.state.values();
  const shell = shellRefValues(ctx.config);
  return {
    ...shell,
    account: s.account ?? shell.account,
    issuer: s.issuer ?? shell.issuer,
    oidcProvider: s.oidcProvider ?? shell.oidcProvider,
    providerArn: s.providerArn ?? shell.providerArn,
    roleArn: s.roleArn ?? shell.roleArn,
    policyArn: s.policyArn ?? shell.policyArn,
    vaultServerRoleArn: s.vaultServerRoleArn ?? shell.vaultServerRoleArn,
  };
}

export function defineStep(step: Step): Step {
  return step;
}
