// Get-or-create-or-converge of an IAM role's trust policy, shared by the Gloo
// role (step 02) and the Vault server role (step 03).
import {
  CreateRoleCommand,
  GetRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from './aws-commands.js';
import { recordCreated, type Ctx, type Action } from './step.js';
import { isNotFound, send } from './aws.js';
import { awsCli, TAGS } from './aws-cli.js';
import { heredoc } from './shell.js';
import { IAM_EVENTUAL_WHY, untilVisible } from './eventual.js';
import { jsonDiff } from './diff.js';
import { parsePolicyDocument, roleArn, sameDocument, serialize, type PolicyDocument } from './iam-documents.js';

/** The live role: its ARN, unique ID (what Vault binds to), trust policy and tags. */
export async function getRole(ctx: Ctx, name: string): Promise<{ arn: string; id: string; trust: unknown; tags: Record<string, string> } | undefined> {
  const res = await send(ctx.config, ctx.aws.iam, new GetRoleCommand({ RoleName: name }), ['NoSuchEntityException', 'NoSuchEntity']);
  if (isNotFound(res) || !res.Role?.Arn) return undefined;
  const trust = res.Role.AssumeRolePolicyDocument ? parsePolicyDocument(res.Role.AssumeRolePolicyDocument) : {};
  const tags = Object.fromEntries((res.Role.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  return { arn: res.Role.Arn, id: res.Role.RoleId ?? '', trust, tags };
}

export function trustFile(name: string): string {
  return `${name}-trust.json`;
}

export function createRoleCommands(ctx: Pick<Ctx, 'config'>, name: string, trust: string, description: string): string[] {
  return [
    heredoc(trustFile(name), trust),
    awsCli(ctx.config, 'iam', 'create-role', '--role-name', name, '--assume-role-policy-document', `file://${trustFile(name)}`, '--description', description, '--tags', 'Key=managed-by,Value=vault-irsa-runbook'),
  ];
}

export function updateTrustCommands(ctx: Pick<Ctx, 'config'>, name: string, trust: string): string[] {
  return [heredoc(trustFile(name), trust), awsCli(ctx.config, 'iam', 'update-assume-role-policy', '--role-name', name, '--policy-document', `file://${trustFile(name)}`)];
}

/** IAM is eventually consistent: wait (bounded, shown) until GetRole sees a new role. */
async function waitForRole(ctx: Ctx, name: string): Promise<void> {
  await untilVisible(() => getRole(ctx, name), {
    what: `IAM role ${name}`,
    why: IAM_EVENTUAL_WHY,
    service: 'iam',
    action: 'GetRole',
    fix: 'IAM made it but does not show it yet; run the step again in a minute',
  });
}

/** The action that makes role `name` exist with exactly `trust`; records the ARN through onArn. */
export async function roleAction(ctx: Ctx, name: string, trust: PolicyDocument, description: string, onArn: (arn: string) => void): Promise<Action> {
  const { config, state } = ctx;
  const live = await getRole(ctx, name);
  const what = `IAM role ${name}`;
  if (!live) {
    const account = state.get('account');
    if (account) onArn(roleArn(config.partition, account, name));
    return {
      what,
      change: 'create',
      commands: createRoleCommands(ctx, name, serialize(trust), description),
      apply: async () => {
        // Recorded before the call: a run killed after IAM made the role, before the answer
        // arrived, must still leave it to teardown (a record of a role never made reads "already gone").
        recordCreated(ctx, { kind: 'iam-role', name });
        const res = await send(config, ctx.aws.iam, new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: serialize(trust), Description: description, Tags: TAGS }));
        if (isNotFound(res) || !res.Role?.Arn) throw new Error('CreateRole returned no role');
        onArn(res.Role.Arn);
        await waitForRole(ctx, name);
      },
    };
  }
  onArn(live.arn);
  if (sameDocument(live.trust, trust)) return { what, change: 'none', note: 'trust policy as wanted' };
  return {
    what: `trust policy of ${what}`,
    change: 'update',
    diff: jsonDiff(live.trust, trust, 'trust policy'),
    commands: updateTrustCommands(ctx, name, serialize(trust)),
    apply: async () => {
      await send(config, ctx.aws.iam, new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: serialize(trust) }));
    },
  };
}
