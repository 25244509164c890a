// Step 03: the guide's IAM policy on the Gloo role, and the fix for the
// guide's troubleshooting section: the Vault server gets its own IRSA role
// allowed iam:GetRole/iam:GetUser (GUIDE §03).
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyVersionCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListPolicyVersionsCommand,
  PutRolePolicyCommand,
} from '../lib/aws-commands.js';
import { defineStep, recordCreated, type Action, type Ctx } from '../lib/step.js';
import { deletePolicy, deleteRole } from '../lib/delete.js';
import { isNotFound, send } from '../lib/aws.js';
import { sendUntilFound } from '../lib/eventual.js';
import { awsCli, TAGS } from '../lib/aws-cli.js';
import { exportFrom, heredoc, raw } from '../lib/shell.js';
import { jsonDiff } from '../lib/diff.js';
import { VerificationError } from '../lib/errors.js';
import { getRole, roleAction, createRoleCommands } from '../lib/iam-role.js';
import { parsePolicyDocument, policyArn, sameDocument, serialize, vaultAuthPolicy, vaultServerPolicy, vaultServerTrust } from '../lib/iam-documents.js';
import { early } from '../lib/early.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

const POLICY_DESCRIPTION = 'Policy used by the Vault user to check instance identity';
const VAULT_ROLE_DESCRIPTION = 'Vault server resolves bound IAM principals (vault-irsa-runbook)';
const POLICY_FILE = 'gloo-vault-auth-policy.json';

async function liveDefaultDocument(ctx: Ctx, arn: string): Promise<{ doc: unknown; versionId: string } | undefined> {
  const p = await send(ctx.config, ctx.aws.iam, new GetPolicyCommand({ PolicyArn: arn }), ['NoSuchEntityException', 'NoSuchEntity']);
  if (isNotFound(p) || !p.Policy?.DefaultVersionId) return undefined;
  const versionId = p.Policy.DefaultVersionId;
  const v = await send(ctx.config, ctx.aws.iam, new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: versionId }));
  if (isNotFound(v)) return undefined;
  return { doc: parsePolicyDocument(v.PolicyVersion?.Document ?? '{}'), versionId };
}

async function policyAction(ctx: Ctx, arn: string): Promise<Action> {
  const { config, state } = ctx;
  const wanted = vaultAuthPolicy(state.get('roleArn')!);
  const live = await liveDefaultDocument(ctx, arn);
  const what = `IAM policy ${config.policyName}`;
  if (!live) {
    return {
      what,
      change: 'create',
      commands: [heredoc(POLICY_FILE, serialize(wanted)), awsCli(config, 'iam', 'create-policy', '--policy-name', config.policyName, '--description', POLICY_DESCRIPTION, '--policy-document', `file://${POLICY_FILE}`, '--tags', 'Key=managed-by,Value=vault-irsa-runbook')],
      apply: async () => {
        // Recorded first, so a run killed between IAM's create and its answer still leaves it to teardown.
        recordCreated(ctx, { kind: 'iam-policy', arn });
        await send(config, ctx.aws.iam, new CreatePolicyCommand({ PolicyName: config.policyName, Description: POLICY_DESCRIPTION, PolicyDocument: serialize(wanted), Tags: TAGS }));
      },
    };
  }
  if (sameDocument(live.doc, wanted)) return { what, change: 'none', note: `default version ${live.versionId} as wanted` };
  return {
    what: `document of ${what}`,
    change: 'update',
    note: 'new default version',
    diff: jsonDiff(live.doc, wanted, 'policy'),
    commands: [heredoc(POLICY_FILE, serialize(wanted)), awsCli(config, 'iam', 'create-policy-version', '--policy-arn', arn, '--policy-document', `file://${POLICY_FILE}`, '--set-as-default')],
    apply: async () => {
      // IAM keeps at most five versions: drop the oldest non-default one first.
      const list = await send(config, ctx.aws.iam, new ListPolicyVersionsCommand({ PolicyArn: arn }));
      const versions = isNotFound(list) ? [] : (list.Versions ?? []);
      if (versions.length >= 5) {
        const oldest = versions.filter((v) => !v.IsDefaultVersion).sort((a, b) => (a.CreateDate?.getTime() ?? 0) - (b.CreateDate?.getTime() ?? 0))[0];
        if (oldest?.VersionId) {
          await send(config, ctx.aws.iam, new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: oldest.VersionId }));
        }
      }
      await send(config, ctx.aws.iam, new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: serialize(wanted), SetAsDefault: true }));
    },
  };
}

async function isAttached(ctx: Ctx, role: string, arn: string): Promise<boolean> {
  const res = await send(ctx.config, ctx.aws.iam, new ListAttachedRolePoliciesCommand({ RoleName: role }), ['NoSuchEntityException', 'NoSuchEntity']);
  return !isNotFound(res) && (res.AttachedPolicies ?? []).some((p) => p.PolicyArn === arn);
}

async function attachAction(ctx: Ctx, arn: string, roleExists: boolean): Promise<Action> {
  const { config } = ctx;
  const what = `attachment of ${config.policyName} to ${config.roleName}`;
  if (roleExists && (await isAttached(ctx, config.roleName, arn))) return { what, change: 'none' };
  return {
    what,
    change: 'create',
    commands: [awsCli(config, 'iam', 'attach-role-policy', '--role-name', config.roleName, '--policy-arn', arn)],
    apply: async () => {
      // The policy (and the role, on a first run) may be seconds old: NoSuchEntity is waited out.
      await sendUntilFound(config, ctx.aws.iam, new AttachRolePolicyCommand({ RoleName: config.roleName, PolicyArn: arn }), `IAM role ${config.roleName} or policy ${arn}`, 'run steps 02-03 again; if it persists, check that both exist');
    },
  };
}

async function vaultServerPolicyAction(ctx: Ctx, roleExists: boolean): Promise<Action> {
  const { config } = ctx;
  const name = config.vaultServerPolicyName;
  const role = config.vaultServerRoleName;
  const wanted = vaultServerPolicy();
  const what = `inline policy ${name} on ${role}`;
  let live: unknown;
  if (roleExists) {
    const res = await send(config, ctx.aws.iam, new GetRolePolicyCommand({ RoleName: role, PolicyName: name }), ['NoSuchEntityException', 'NoSuchEntity']);
    if (!isNotFound(res) && res.PolicyDocument) live = parsePolicyDocument(res.PolicyDocument);
  }
  if (live && sameDocument(live, wanted)) return { what, change: 'none', note: 'iam:GetRole, iam:GetUser' };
  const file = `${role}-policy.json`;
  return {
    what,
    change: live ? 'update' : 'create',
    ...(live ? { diff: jsonDiff(live, wanted, 'inline policy') } : {}),
    commands: [heredoc(file, serialize(wanted)), awsCli(config, 'iam', 'put-role-policy', '--role-name', role, '--policy-name', name, '--policy-document', `file://${file}`)],
    apply: async () => {
      await sendUntilFound(config, ctx.aws.iam, new PutRolePolicyCommand({ RoleName: role, PolicyName: name, PolicyDocument: serialize(wanted) }), `IAM role ${role}`, 'run step 03 again; if it persists, check that the role exists');
    },
  };
}

export const step = defineStep({
  id: '03',
  name: 'iam-policy',
  title: 'IAM policy, and the Vault server role',
  needs: ['account', 'providerArn', 'oidcProvider', 'roleArn'],
  provides: [{ key: 'policyArn' }, { key: 'vaultServerRoleArn' }],
  // With the account an earlier run stored: the policy, its attachment, the Vault server
  // role and its inline policy. A first run has no account yet and prefetches nothing.
  prefetch: (ctx) => {
    const { config, state } = ctx;
    const acct = state.get('account');
    if (!acct) return Promise.resolve();
    const arn = policyArn(config.partition, acct, config.policyName);
    return Promise.all([
      liveDefaultDocument(ctx, arn),
      isAttached(ctx, config.roleName, arn),
      ...(config.vaultServerIdentity === 'role'
        ? [getRole(ctx, config.vaultServerRoleName), send(config, ctx.aws.iam, new GetRolePolicyCommand({ RoleName: config.vaultServerRoleName, PolicyName: config.vaultServerPolicyName }), ['NoSuchEntityException', 'NoSuchEntity'])]
        : []),
    ]);
  },

  reference(v) {
    const c = v.config;
    const out = [
      heredoc(POLICY_FILE, serialize(vaultAuthPolicy(v.roleArn))),
      raw(exportFrom('VAULT_AUTH_POLICY_ARN', awsCli(c, 'iam', 'create-policy', '--policy-name', c.policyName, '--description', POLICY_DESCRIPTION, '--policy-document', `file://${POLICY_FILE}`, '--query', 'Policy.Arn', '--output', 'text'))),
      awsCli(c, 'iam', 'attach-role-policy', '--role-name', c.roleName, '--policy-arn', v.policyArn),
    ];
    if (c.vaultServerIdentity === 'role') {
      const file = `${c.vaultServerRoleName}-policy.json`;
      out.push(
        raw('# The fix: the Vault server gets its own IRSA role that may resolve IAM principals'),
        ...createRoleCommands({ config: c }, c.vaultServerRoleName, serialize(vaultServerTrust(c, v.providerArn, v.oidcProvider)), VAULT_ROLE_DESCRIPTION),
        heredoc(file, serialize(vaultServerPolicy())),
        awsCli(c, 'iam', 'put-role-policy', '--role-name', c.vaultServerRoleName, '--policy-name', c.vaultServerPolicyName, '--policy-document', `file://${file}`),
        raw(exportFrom('VAULT_SERVER_ROLE_ARN', awsCli(c, 'iam', 'get-role', '--role-name', c.vaultServerRoleName, '--query', 'Role.Arn', '--output', 'text'))),
      );
    }
    return out;
  },

  async check(ctx) {
    const { config, state } = ctx;
    const s = state.values();
    const arn = policyArn(config.partition, s.account!, config.policyName);
    state.set({ policyArn: arn });
    // Independent reads (the role and the policy's attachment, the policy, the Vault server
    // role and its policy), sent at once and awaited in the sequential order.
    const role = early(getRole(ctx, config.roleName));
    const attach = early(role.then((r) => attachAction(ctx, arn, Boolean(r))));
    const policy = early(policyAction(ctx, arn));
    const server = config.vaultServerIdentity === 'node' ? undefined : early((async () => {
      const trust = vaultServerTrust(config, s.providerArn!, s.oidcProvider!);
      const roleAct = await roleAction(ctx, config.vaultServerRoleName, trust, VAULT_ROLE_DESCRIPTION, (a) => state.set({ vaultServerRoleArn: a }));
      return [roleAct, await vaultServerPolicyAction(ctx, roleAct.change !== 'create')];
    })());
    await role;
    const actions: Action[] = [await policy, await attach];
    if (!server) {
      state.set({ vaultServerRoleArn: undefined });
      actions.push({
        what: `Vault server role ${config.vaultServerRoleName}`,
        change: 'skip',
        note: 'VAULT_SERVER_IDENTITY=node reproduces the guide: Vault uses the node role, and step 09 fails with "not authorized to perform: iam:GetRole" unless that role allows it (make troubleshoot)',
      });
      return actions;
    }
    actions.push(...(await server));
    return actions;
  },

  async verify(ctx) {
    const { config, state } = ctx;
    const arn = state.get('policyArn')!;
    const live = await liveDefaultDocument(ctx, arn);
    if (!live || !sameDocument(live.doc, vaultAuthPolicy(state.get('roleArn')!))) throw new VerificationError(`policy ${arn} is missing or its default version differs`);
    if (!(await isAttached(ctx, config.roleName, arn))) throw new VerificationError(`policy ${arn} is not attached to ${config.roleName}`);
    if (config.vaultServerIdentity === 'role') {
      const res = await send(config, ctx.aws.iam, new GetRolePolicyCommand({ RoleName: config.vaultServerRoleName, PolicyName: config.vaultServerPolicyName }), ['NoSuchEntityException', 'NoSuchEntity']);
      if (isNotFound(res)) throw new VerificationError(`the Vault server role ${config.vaultServerRoleName} has no policy ${config.vaultServerPolicyName}`);
      return `policy attached to ${config.roleName}; Vault server role ${state.get('vaultServerRoleArn')} may call iam:GetRole`;
    }
    return `policy attached to ${config.roleName}`;
  },

  // The policy (detached first), then the Vault server role with its inline policy.
  async teardown(ctx) {
    const out: Action[] = [];
    for (const r of ctx.state.createdBy(ctx.stepId, 'iam-policy')) out.push(await deletePolicy(ctx, r));
    for (const r of ctx.state.createdBy(ctx.stepId, 'iam-role')) {
      out.push(await deleteRole(ctx, r, () => {
        if (r.name === ctx.config.vaultServerRoleName) ctx.state.set({ vaultServerRoleArn: undefined });
      }));
    }
    return out;
  },

  teardownReference: (v) => [
    awsCli(v.config, 'iam', 'detach-role-policy', '--role-name', v.config.roleName, '--policy-arn', v.policyArn),
    awsCli(v.config, 'iam', 'delete-policy', '--policy-arn', v.policyArn),
    awsCli(v.config, 'iam', 'delete-role-policy', '--role-name', v.config.vaultServerRoleName, '--policy-name', v.config.vaultServerPolicyName),
    awsCli(v.config, 'iam', 'delete-role', '--role-name', v.config.vaultServerRoleName),
  ],
});

if (isMain(import.meta.url)) void main([step]);
