// What a step is: a number, a title, what it needs from earlier steps, and
// check (read live state, return the actions that differ), apply (inside each
// action) and verify. The runner in run.ts does the rest the same way for all.
import type { Config } from './config.js';
import type { State, StateKey } from './state.js';
import type { AwsClients } from './aws.js';
import type { Vault } from './vault.js';

export type Mode = 'apply' | 'dry-run' | 'print';

export interface Ctx {
  config: Config;
  state: State;
  mode: Mode;
  yes: boolean;
  /** Created on first use; print mode never touches them. */
  readonly aws: AwsClients;
  readonly vault: Vault;
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

export interface Need {
  key: StateKey;
  /** The step that produces it. */
  step: string;
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
  needs?: Need[];
  /** The copy-paste reference: every manual command of the step, from configuration alone. */
  reference(v: RefValues): string[];
  check(ctx: Ctx): Promise<Action[]>;
  /** Prove the result; returns what was proven, throws VerificationError. */
  verify?(ctx: Ctx): Promise<string>;
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
