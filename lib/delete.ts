// The mechanics of deleting what the runbook made, one function per kind of
// resource; each step's teardown decides which of its records to pass here.
// Every deletion reads first (a second run deletes nothing), keeps what does
// not carry the runbook's tag, and asks unless --yes (destructive).
import fs from 'node:fs';
import {
  DeleteOpenIDConnectProviderCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetOpenIDConnectProviderCommand,
  GetPolicyCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListOpenIDConnectProviderTagsCommand,
  ListPolicyTagsCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRoleTagsCommand,
} from './aws-commands.js';
import type { Action, Ctx } from './step.js';
import type { Resource } from './state.js';
import { isNotFound, send } from './aws.js';
import { awsCli, TAG_KEY, TAG_VALUE } from './aws-cli.js';
import { cmd, vaultCli } from './shell.js';
import { getRole } from './iam-role.js';
import { hasKubeCluster } from './kube.js';
import { helmRelease, helmUninstall } from './helm.js';

const NOT_FOUND = ['NoSuchEntityException', 'NoSuchEntity'];

const tagged = (tags: { Key?: string; Value?: string }[] | undefined): boolean => (tags ?? []).some((t) => t.Key === TAG_KEY && t.Value === TAG_VALUE);

/** A recorded resource that is no longer there: the record goes. */
export function gone(ctx: Ctx, r: Resource, what: string): Action {
  ctx.state.forget(r);
  return { what, change: 'none', note: 'already gone' };
}

export function notOurs(what: string, why: string): Action {
  return { what, change: 'skip', note: `kept: ${why}` };
}

export async function deleteOidcProvider(ctx: Ctx, r: Extract<Resource, { kind: 'oidc-provider' }>): Promise<Action> {
  const { config } = ctx;
  const what = `IAM OIDC provider ${r.arn.split('oidc-provider/').pop()}`;
  const live = await send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: r.arn }), NOT_FOUND);
  if (isNotFound(live)) return gone(ctx, r, what);
  let ours = tagged(live.Tags);
  if (!ours && !live.Tags?.length) {
    const lt = await send(config, ctx.aws.iam, new ListOpenIDConnectProviderTagsCommand({ OpenIDConnectProviderArn: r.arn }), NOT_FOUND);
    ours = !isNotFound(lt) && tagged(lt.Tags);
  }
  if (!ours) return notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE}`);
  return {
    what,
    change: 'delete',
    destructive: true,
    note: 'every IRSA role of this cluster stops working',
    commands: [awsCli(config, 'iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', r.arn)],
    apply: async () => {
      await send(config, ctx.aws.iam, new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: r.arn }), NOT_FOUND);
      ctx.state.forget(r);
    },
  };
}

/** A role with its inline policies and attachments; `after` runs once it is deleted. */
export async function deleteRole(ctx: Ctx, r: Extract<Resource, { kind: 'iam-role' }>, after: () => void = () => undefined): Promise<Action> {
  const { config } = ctx;
  const name = r.name;
  const what = `IAM role ${name}`;
  const live = await getRole(ctx, name);
  if (!live) return gone(ctx, r, what);
  let ours = live.tags[TAG_KEY] === TAG_VALUE;
  if (!ours && !Object.keys(live.tags).length) {
    const lt = await send(config, ctx.aws.iam, new ListRoleTagsCommand({ RoleName: name }), NOT_FOUND);
    ours = !isNotFound(lt) && tagged(lt.Tags);
  }
  if (!ours) return notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE} (re-created by someone else?)`);
  const inl = await send(config, ctx.aws.iam, new ListRolePoliciesCommand({ RoleName: name }), NOT_FOUND);
  const inline = isNotFound(inl) ? [] : (inl.PolicyNames ?? []);
  const att = await send(config, ctx.aws.iam, new ListAttachedRolePoliciesCommand({ RoleName: name }), NOT_FOUND);
  const attached = isNotFound(att) ? [] : (att.AttachedPolicies ?? []).map((p) => p.PolicyArn!).filter(Boolean);
  const extra = [...inline.map((p) => `inline ${p}`), ...attached.map((a) => `attached ${a.split('/').pop()}`)];
  return {
    what,
    change: 'delete',
    destructive: true,
    ...(extra.length ? { note: `with its ${extra.join(', ')}` } : {}),
    commands: [
      ...inline.map((p) => awsCli(config, 'iam', 'delete-role-policy', '--role-name', name, '--policy-name', p)),
      ...attached.map((a) => awsCli(config, 'iam', 'detach-role-policy', '--role-name', name, '--policy-arn', a)),
      awsCli(config, 'iam', 'delete-role', '--role-name', name),
    ],
    apply: async () => {
      for (const p of inline) await send(config, ctx.aws.iam, new DeleteRolePolicyCommand({ RoleName: name, PolicyName: p }), NOT_FOUND);
      for (const a of attached) await send(config, ctx.aws.iam, new DetachRolePolicyCommand({ RoleName: name, PolicyArn: a }), NOT_FOUND);
      await send(config, ctx.aws.iam, new DeleteRoleCommand({ RoleName: name }), NOT_FOUND);
      ctx.state.forget(r);
      after();
    },
  };
}

/** A managed policy, detached first from every role, user and group. */
export async function deletePolicy(ctx: Ctx, r: Extract<Resource, { kind: 'iam-policy' }>): Promise<Action> {
  const { config } = ctx;
  const arn = r.arn;
  const what = `IAM policy ${arn.split('/').pop()}`;
  const p = await send(config, ctx.aws.iam, new GetPolicyCommand({ PolicyArn: arn }), NOT_FOUND);
  if (isNotFound(p)) return gone(ctx, r, what);
  let tags = p.Policy?.Tags;
  if (!tags) {
    const t = await send(config, ctx.aws.iam, new ListPolicyTagsCommand({ PolicyArn: arn }), NOT_FOUND);
    tags = isNotFound(t) ? [] : t.Tags;
  }
  if (!tagged(tags)) return notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE} (re-created by someone else?)`);
  const ents = await send(config, ctx.aws.iam, new ListEntitiesForPolicyCommand({ PolicyArn: arn }), NOT_FOUND);
  const roles = isNotFound(ents) ? [] : (ents.PolicyRoles ?? []).map((x) => x.RoleName!).filter(Boolean);
  const users = isNotFound(ents) ? [] : (ents.PolicyUsers ?? []).map((x) => x.UserName!).filter(Boolean);
  const groups = isNotFound(ents) ? [] : (ents.PolicyGroups ?? []).map((x) => x.GroupName!).filter(Boolean);
  return {
    what,
    change: 'delete',
    destructive: true,
    ...(roles.length + users.length + groups.length ? { note: `detached first from ${[...roles.map((x) => `role ${x}`), ...users.map((u) => `user ${u}`), ...groups.map((g) => `group ${g}`)].join(', ')}` } : {}),
    commands: [...roles.map((x) => awsCli(config, 'iam', 'detach-role-policy', '--role-name', x, '--policy-arn', arn)), awsCli(config, 'iam', 'delete-policy', '--policy-arn', arn)],
    apply: async () => {
      for (const x of roles) await send(config, ctx.aws.iam, new DetachRolePolicyCommand({ RoleName: x, PolicyArn: arn }), NOT_FOUND);
      for (const u of users) await send(config, ctx.aws.iam, new DetachUserPolicyCommand({ UserName: u, PolicyArn: arn }), NOT_FOUND);
      for (const g of groups) await send(config, ctx.aws.iam, new DetachGroupPolicyCommand({ GroupName: g, PolicyArn: arn }), NOT_FOUND);
      const vs = await send(config, ctx.aws.iam, new ListPolicyVersionsCommand({ PolicyArn: arn }), NOT_FOUND);
      for (const v of isNotFound(vs) ? [] : (vs.Versions ?? []).filter((x) => !x.IsDefaultVersion)) {
        await send(config, ctx.aws.iam, new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.VersionId }), NOT_FOUND);
      }
      await send(config, ctx.aws.iam, new DeletePolicyCommand({ PolicyArn: arn }), NOT_FOUND);
      ctx.state.forget(r);
    },
  };
}

export async function deleteInlinePolicy(ctx: Ctx, r: Extract<Resource, { kind: 'iam-inline-policy' }>): Promise<Action> {
  const { config } = ctx;
  const { name, policy } = r;
  const isUser = r.principal === 'user';
  const what = `inline policy ${policy} on ${r.principal} ${name}`;
  const live = isUser
    ? await send(config, ctx.aws.iam, new GetUserPolicyCommand({ UserName: name, PolicyName: policy }), NOT_FOUND)
    : await send(config, ctx.aws.iam, new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }), NOT_FOUND);
  if (isNotFound(live)) return gone(ctx, r, what);
  return {
    what,
    change: 'delete',
    destructive: true,
    commands: [awsCli(config, 'iam', isUser ? 'delete-user-policy' : 'delete-role-policy', isUser ? '--user-name' : '--role-name', name, '--policy-name', policy)],
    apply: async () => {
      if (isUser) await send(config, ctx.aws.iam, new DeleteUserPolicyCommand({ UserName: name, PolicyName: policy }), NOT_FOUND);
      else await send(config, ctx.aws.iam, new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy }), NOT_FOUND);
      ctx.state.forget(r);
    },
  };
}

export async function deleteHelmReleases(ctx: Ctx, records: Extract<Resource, { kind: 'helm-release' }>[]): Promise<Action[]> {
  if (!records.length) return [];
  if (!(await hasKubeCluster(ctx.config))) {
    return records.map((r) => ({ what: `Helm release ${r.release} in namespace ${r.namespace}`, change: 'skip' as const, note: 'no Kubernetes cluster answers kubectl: uninstall it when the cluster is reachable' }));
  }
  const out: Action[] = [];
  for (const r of records) {
    const what = `Helm release ${r.release} in namespace ${r.namespace}`;
    if (!(await helmRelease(r.release, r.namespace, ctx.config))) {
      out.push(gone(ctx, r, what));
      continue;
    }
    out.push({
      what,
      change: 'delete',
      destructive: true,
      commands: [cmd('helm', 'uninstall', r.release, '-n', r.namespace)],
      apply: async () => {
        await helmUninstall(r.release, r.namespace, ctx.config);
        ctx.state.forget(r);
      },
    });
  }
  return out;
}

export function deleteFile(ctx: Ctx, r: Extract<Resource, { kind: 'file' }>, after: () => void = () => undefined): Action {
  const what = `file ${r.path}`;
  if (!fs.existsSync(r.path)) return gone(ctx, r, what);
  return {
    what,
    change: 'delete',
    destructive: true,
    commands: [cmd('rm', '-f', r.path)],
    apply: async () => {
      fs.rmSync(r.path, { force: true });
      ctx.state.forget(r);
      after();
    },
  };
}

/**
 * A Vault object at `path` (read at `readPath`, deleted at `path`): deleted when `ours`,
 * kept with `why` otherwise; a record of something no longer there is dropped.
 */
export async function deleteVaultObject(ctx: Ctx, args: { resource: Resource; what: string; exists: boolean; ours: boolean; why: string; path: string; command: string[] }): Promise<Action | undefined> {
  const { resource, what } = args;
  if (!args.exists) return ctx.state.wasCreated(resource) ? gone(ctx, resource, what) : undefined;
  if (!args.ours) return notOurs(what, args.why);
  return {
    what,
    change: 'delete',
    destructive: true,
    commands: [vaultCli(ctx.config.vaultK8sNamespace, ...args.command)],
    apply: async () => {
      await ctx.vault.delete(args.path);
      ctx.state.forget(resource);
    },
  };
}
