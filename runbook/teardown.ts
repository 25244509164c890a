// `make teardown`: delete what the runbook created, in reverse order of the
// steps. Nothing else: an AWS resource goes only when the state file recorded
// it as created (state.created) AND it still carries the tag
// managed-by=vault-irsa-runbook; a Vault mount goes when it was recorded or
// carries the runbook's description (Vault's tag), the Vault policy when it was
// recorded or is exactly the text the runbook writes. Every deletion reads
// first, so a second run deletes nothing; each one asks unless --yes.
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
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListPolicyTagsCommand,
  ListRoleTagsCommand,
  ListOpenIDConnectProviderTagsCommand,
} from '@aws-sdk/client-iam';
import { defineStep, type Action, type Ctx, type Step } from '../lib/step.js';
import { isNotFound, send } from '../lib/aws.js';
import { awsCli, TAG_KEY, TAG_VALUE } from '../lib/aws-cli.js';
import { cmd, vaultCli } from '../lib/shell.js';
import { vaultRoleName } from '../lib/config.js';
import { getRole } from '../lib/iam-role.js';
import { hasKubeCluster } from '../lib/kube.js';
import { helmRelease, helmUninstall } from '../lib/helm.js';
import { glooPolicyHcl } from '../lib/vault-policy.js';
import { vaultOf } from './04-install-vault.js';
import { AUTH_DESCRIPTION, mountEntry } from './05-enable-aws-auth.js';
import { KV_DESCRIPTION } from './06-enable-kv.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

const NOT_FOUND = ['NoSuchEntityException', 'NoSuchEntity'];

function created(ctx: Ctx, prefix: string): string[] {
  return (ctx.state.values().created ?? []).filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length));
}

const tagged = (tags: { Key?: string; Value?: string }[] | undefined): boolean => (tags ?? []).some((t) => t.Key === TAG_KEY && t.Value === TAG_VALUE);

function gone(ctx: Ctx, id: string, what: string): Action {
  ctx.state.forget(id);
  return { what, change: 'none', note: 'already gone' };
}

function notOurs(what: string, why: string): Action {
  return { what, change: 'skip', note: `kept: ${why}` };
}

// ---- 13: inline policies troubleshoot added ------------------------------------------------

const inlinePolicies = defineStep({
  id: 'T13',
  name: 'teardown-inline-policies',
  title: 'Teardown: inline policies added by troubleshoot',
  reference: () => ['# aws iam delete-role-policy --role-name <role> --policy-name vault-irsa-getrole (only where make troubleshoot added it)'],
  async check(ctx) {
    const { config } = ctx;
    const out: Action[] = [];
    for (const ref of created(ctx, 'iam-inline-policy:')) {
      const [kind, name, policy] = ref.split('/') as [string, string, string];
      const id = `iam-inline-policy:${ref}`;
      const what = `inline policy ${policy} on ${kind} ${name}`;
      const isUser = kind === 'user';
      const live = isUser
        ? await send(config, ctx.aws.iam, new GetUserPolicyCommand({ UserName: name, PolicyName: policy }), NOT_FOUND)
        : await send(config, ctx.aws.iam, new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }), NOT_FOUND);
      if (isNotFound(live)) {
        out.push(gone(ctx, id, what));
        continue;
      }
      out.push({
        what,
        change: 'delete',
        destructive: true,
        commands: [awsCli(config, 'iam', isUser ? 'delete-user-policy' : 'delete-role-policy', isUser ? '--user-name' : '--role-name', name, '--policy-name', policy)],
        apply: async () => {
          if (isUser) await send(config, ctx.aws.iam, new DeleteUserPolicyCommand({ UserName: name, PolicyName: policy }), NOT_FOUND);
          else await send(config, ctx.aws.iam, new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy }), NOT_FOUND);
          ctx.state.forget(id);
        },
      });
    }
    return out;
  },
});

// ---- 11 and 04: Helm releases -------------------------------------------------------------

function helmReleasesStep(id: string, title: string, filter: (ns: string, release: string) => boolean): Step {
  return defineStep({
    id,
    name: `teardown-${id}`,
    title,
    reference: () => ['# helm uninstall <release> -n <namespace> (only releases the runbook installed)'],
    async check(ctx) {
      const out: Action[] = [];
      const refs = created(ctx, 'helm-release:').filter((r) => {
        const [ns, rel] = r.split('/') as [string, string];
        return filter(ns, rel);
      });
      if (!refs.length) return out;
      if (!(await hasKubeCluster(ctx.config))) {
        return refs.map((r) => ({ what: `Helm release ${r}`, change: 'skip' as const, note: 'no Kubernetes cluster answers kubectl: uninstall it when the cluster is reachable' }));
      }
      for (const ref of refs) {
        const [ns, rel] = ref.split('/') as [string, string];
        const what = `Helm release ${rel} in namespace ${ns}`;
        if (!(await helmRelease(rel, ns, ctx.config))) {
          out.push(gone(ctx, `helm-release:${ref}`, what));
          continue;
        }
        out.push({
          what,
          change: 'delete',
          destructive: true,
          commands: [cmd('helm', 'uninstall', rel, '-n', ns)],
          apply: async () => {
            await helmUninstall(rel, ns, ctx.config);
            ctx.state.forget(`helm-release:${ref}`);
          },
        });
      }
      return out;
    },
  });
}

const glooRelease = helmReleasesStep('T11', 'Teardown: Gloo Edge release', (ns, rel) => !(ns === 'vault' && rel === 'vault'));
const vaultRelease = helmReleasesStep('T04', 'Teardown: Vault release', (ns, rel) => ns === 'vault' && rel === 'vault');

// ---- 10: the values file ------------------------------------------------------------------

const valuesFile = defineStep({
  id: 'T10',
  name: 'teardown-values',
  title: 'Teardown: Helm values file',
  reference: (v) => [cmd('rm', '-f', v.config.valuesFile)],
  async check(ctx) {
    return created(ctx, 'file:').map((file): Action => {
      const id = `file:${file}`;
      if (!fs.existsSync(file)) return gone(ctx, id, `file ${file}`);
      return {
        what: `file ${file}`,
        change: 'delete',
        destructive: true,
        commands: [cmd('rm', '-f', file)],
        apply: async () => {
          fs.rmSync(file, { force: true });
          ctx.state.forget(id);
          if (ctx.state.get('valuesFile') === file) ctx.state.set({ valuesFile: undefined });
        },
      };
    });
  },
});

// ---- 09-05: Vault ---------------------------------------------------------------------------

const vaultSide = defineStep({
  id: 'T05-09',
  name: 'teardown-vault',
  title: 'Teardown: Vault role, client config, auth method, policy, KV engine',
  reference(v) {
    const c = v.config;
    return [
      vaultCli(c.vaultK8sNamespace, 'delete', `auth/${c.authMount}/role/${c.roleName.toLowerCase()}`),
      vaultCli(c.vaultK8sNamespace, 'delete', `auth/${c.authMount}/config/client`),
      vaultCli(c.vaultK8sNamespace, 'auth', 'disable', `${c.authMount}/`),
      vaultCli(c.vaultK8sNamespace, 'policy', 'delete', c.vaultPolicyName),
      vaultCli(c.vaultK8sNamespace, 'secrets', 'disable', `${c.kvMount}/`),
    ];
  },
  async check(ctx) {
    const { config, state } = ctx;
    const vault = await vaultOf(ctx);
    const out: Action[] = [];
    const ns = config.vaultK8sNamespace;
    const role = vaultRoleName(config);
    const auth = await mountEntry(vault, 'sys/auth', config.authMount);
    const authId = `vault-auth:${config.authMount}`;
    const authOurs = auth?.type === 'aws' && (state.wasCreated(authId) || (auth as { description?: string }).description === AUTH_DESCRIPTION);

    // 09 role and 08 client config: explicitly, then the mount (which would take them too).
    const roleId = `vault-role:${config.authMount}/${role}`;
    const rolePath = `auth/${config.authMount}/role/${role}`;
    if (auth?.type === 'aws' && (authOurs || state.wasCreated(roleId))) {
      if (await vault.read(rolePath)) {
        out.push({ what: `Vault role ${role} on auth/${config.authMount}`, change: 'delete', destructive: true, commands: [vaultCli(ns, 'delete', rolePath)], apply: async () => { await vault.delete(rolePath); state.forget(roleId); } });
      } else out.push(gone(ctx, roleId, `Vault role ${role} on auth/${config.authMount}`));
      const cfgPath = `auth/${config.authMount}/config/client`;
      if (await vault.read(cfgPath)) {
        out.push({ what: `Vault ${cfgPath}`, change: 'delete', destructive: true, commands: [vaultCli(ns, 'delete', cfgPath)], apply: async () => { await vault.delete(cfgPath); state.forget(`vault-client-config:${config.authMount}`); } });
      }
    } else if (state.wasCreated(roleId)) out.push(gone(ctx, roleId, `Vault role ${role}`));

    // 05 auth method
    const authWhat = `Vault auth method aws at ${config.authMount}/`;
    if (!auth) {
      if (state.wasCreated(authId)) out.push(gone(ctx, authId, authWhat));
    } else if (authOurs) {
      out.push({ what: authWhat, change: 'delete', destructive: true, commands: [vaultCli(ns, 'auth', 'disable', `${config.authMount}/`)], apply: async () => { await vault.delete(`sys/auth/${config.authMount}`); state.forget(authId); } });
    } else out.push(notOurs(authWhat, 'not created by the runbook (no record, other description)'));

    // 07 policy
    const polId = `vault-policy:${config.vaultPolicyName}`;
    const polWhat = `Vault policy ${config.vaultPolicyName}`;
    const pol = await vault.read(`sys/policies/acl/${config.vaultPolicyName}`);
    const text = ((pol?.data ?? pol) as { policy?: string } | undefined)?.policy;
    if (text === undefined) {
      if (state.wasCreated(polId)) out.push(gone(ctx, polId, polWhat));
    } else if (state.wasCreated(polId) || text === glooPolicyHcl(config.kvMount)) {
      out.push({ what: polWhat, change: 'delete', destructive: true, commands: [vaultCli(ns, 'policy', 'delete', config.vaultPolicyName)], apply: async () => { await vault.delete(`sys/policies/acl/${config.vaultPolicyName}`); state.forget(polId); } });
    } else out.push(notOurs(polWhat, 'its text is not the one the runbook writes and the runbook has no record of creating it'));

    // 06 KV engine (takes its secrets with it)
    const kvId = `vault-kv:${config.kvMount}`;
    const kvWhat = `Vault KV engine at ${config.kvMount}/ and every secret in it`;
    const kv = await mountEntry(vault, 'sys/mounts', config.kvMount);
    if (!kv) {
      if (state.wasCreated(kvId)) out.push(gone(ctx, kvId, kvWhat));
    } else if (state.wasCreated(kvId) || (kv as { description?: string }).description === KV_DESCRIPTION) {
      out.push({ what: kvWhat, change: 'delete', destructive: true, commands: [vaultCli(ns, 'secrets', 'disable', `${config.kvMount}/`)], apply: async () => { await vault.delete(`sys/mounts/${config.kvMount}`); state.forget(kvId); } });
    } else out.push(notOurs(`Vault engine at ${config.kvMount}/`, 'not created by the runbook (no record, other description)'));
    return out;
  },
});

// ---- 03: IAM policy ----------------------------------------------------------------------------

const iamPolicies = defineStep({
  id: 'T03',
  name: 'teardown-iam-policy',
  title: 'Teardown: IAM policy',
  reference: (v) => [awsCli(v.config, 'iam', 'detach-role-policy', '--role-name', v.config.roleName, '--policy-arn', v.policyArn), awsCli(v.config, 'iam', 'delete-policy', '--policy-arn', v.policyArn)],
  async check(ctx) {
    const { config } = ctx;
    const out: Action[] = [];
    for (const arn of created(ctx, 'iam-policy:')) {
      const id = `iam-policy:${arn}`;
      const what = `IAM policy ${arn.split('/').pop()}`;
      const p = await send(config, ctx.aws.iam, new GetPolicyCommand({ PolicyArn: arn }), NOT_FOUND);
      if (isNotFound(p)) {
        out.push(gone(ctx, id, what));
        continue;
      }
      let tags = p.Policy?.Tags;
      if (!tags) {
        const t = await send(config, ctx.aws.iam, new ListPolicyTagsCommand({ PolicyArn: arn }), NOT_FOUND);
        tags = isNotFound(t) ? [] : t.Tags;
      }
      if (!tagged(tags)) {
        out.push(notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE} (re-created by someone else?)`));
        continue;
      }
      const ents = await send(config, ctx.aws.iam, new ListEntitiesForPolicyCommand({ PolicyArn: arn }), NOT_FOUND);
      const roles = isNotFound(ents) ? [] : (ents.PolicyRoles ?? []).map((r) => r.RoleName!).filter(Boolean);
      const users = isNotFound(ents) ? [] : (ents.PolicyUsers ?? []).map((r) => r.UserName!).filter(Boolean);
      const groups = isNotFound(ents) ? [] : (ents.PolicyGroups ?? []).map((r) => r.GroupName!).filter(Boolean);
      out.push({
        what,
        change: 'delete',
        destructive: true,
        ...(roles.length + users.length + groups.length ? { note: `detached first from ${[...roles.map((r) => `role ${r}`), ...users.map((u) => `user ${u}`), ...groups.map((g) => `group ${g}`)].join(', ')}` } : {}),
        commands: [...roles.map((r) => awsCli(config, 'iam', 'detach-role-policy', '--role-name', r, '--policy-arn', arn)), awsCli(config, 'iam', 'delete-policy', '--policy-arn', arn)],
        apply: async () => {
          for (const r of roles) await send(config, ctx.aws.iam, new DetachRolePolicyCommand({ RoleName: r, PolicyArn: arn }), NOT_FOUND);
          for (const u of users) await send(config, ctx.aws.iam, new DetachUserPolicyCommand({ UserName: u, PolicyArn: arn }), NOT_FOUND);
          for (const g of groups) await send(config, ctx.aws.iam, new DetachGroupPolicyCommand({ GroupName: g, PolicyArn: arn }), NOT_FOUND);
          const vs = await send(config, ctx.aws.iam, new ListPolicyVersionsCommand({ PolicyArn: arn }), NOT_FOUND);
          for (const v of isNotFound(vs) ? [] : (vs.Versions ?? []).filter((x) => !x.IsDefaultVersion)) {
            await send(config, ctx.aws.iam, new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.VersionId }), NOT_FOUND);
          }
          await send(config, ctx.aws.iam, new DeletePolicyCommand({ PolicyArn: arn }), NOT_FOUND);
          ctx.state.forget(id);
        },
      });
    }
    return out;
  },
});

// ---- 03 and 02: IAM roles (the Vault server role, the Gloo role) --------------------------------

const iamRoles = defineStep({
  id: 'T02-03',
  name: 'teardown-iam-roles',
  title: 'Teardown: IAM roles',
  reference: (v) => [awsCli(v.config, 'iam', 'delete-role-policy', '--role-name', v.config.vaultServerRoleName, '--policy-name', v.config.vaultServerPolicyName), awsCli(v.config, 'iam', 'delete-role', '--role-name', v.config.vaultServerRoleName), awsCli(v.config, 'iam', 'delete-role', '--role-name', v.config.roleName)],
  async check(ctx) {
    const { config } = ctx;
    const out: Action[] = [];
    // The Vault server role (step 03) before the Gloo role (step 02).
    const names = created(ctx, 'iam-role:').sort((a, b) => Number(b === config.vaultServerRoleName) - Number(a === config.vaultServerRoleName));
    for (const name of names) {
      const id = `iam-role:${name}`;
      const what = `IAM role ${name}`;
      const live = await getRole(ctx, name);
      if (!live) {
        out.push(gone(ctx, id, what));
        continue;
      }
      let roleTagged = live.tags[TAG_KEY] === TAG_VALUE;
      if (!roleTagged && !Object.keys(live.tags).length) {
        const lt = await send(config, ctx.aws.iam, new ListRoleTagsCommand({ RoleName: name }), NOT_FOUND);
        roleTagged = !isNotFound(lt) && tagged(lt.Tags);
      }
      if (!roleTagged) {
        out.push(notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE} (re-created by someone else?)`));
        continue;
      }
      const inl = await send(config, ctx.aws.iam, new ListRolePoliciesCommand({ RoleName: name }), NOT_FOUND);
      const inline = isNotFound(inl) ? [] : (inl.PolicyNames ?? []);
      const att = await send(config, ctx.aws.iam, new ListAttachedRolePoliciesCommand({ RoleName: name }), NOT_FOUND);
      const attached = isNotFound(att) ? [] : (att.AttachedPolicies ?? []).map((p) => p.PolicyArn!).filter(Boolean);
      const extra = [...inline.map((p) => `inline ${p}`), ...attached.map((a) => `attached ${a.split('/').pop()}`)];
      out.push({
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
          ctx.state.forget(id);
          if (name === config.roleName) ctx.state.set({ roleArn: undefined });
          if (name === config.vaultServerRoleName) ctx.state.set({ vaultServerRoleArn: undefined });
        },
      });
    }
    return out;
  },
});

// ---- 01: OIDC provider ----------------------------------------------------------------------

const oidcProviders = defineStep({
  id: 'T01',
  name: 'teardown-oidc',
  title: 'Teardown: IAM OIDC provider',
  reference: (v) => [awsCli(v.config, 'iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', v.providerArn)],
  async check(ctx) {
    const { config } = ctx;
    const out: Action[] = [];
    for (const arn of created(ctx, 'oidc-provider:')) {
      const id = `oidc-provider:${arn}`;
      const what = `IAM OIDC provider ${arn.split('oidc-provider/').pop()}`;
      const live = await send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }), NOT_FOUND);
      if (isNotFound(live)) {
        out.push(gone(ctx, id, what));
        continue;
      }
      let provTagged = tagged(live.Tags);
      if (!provTagged && !live.Tags?.length) {
        const lt = await send(config, ctx.aws.iam, new ListOpenIDConnectProviderTagsCommand({ OpenIDConnectProviderArn: arn }), NOT_FOUND);
        provTagged = !isNotFound(lt) && tagged(lt.Tags);
      }
      if (!provTagged) {
        out.push(notOurs(what, `no tag ${TAG_KEY}=${TAG_VALUE}`));
        continue;
      }
      out.push({
        what,
        change: 'delete',
        destructive: true,
        note: 'every IRSA role of this cluster stops working',
        commands: [awsCli(config, 'iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', arn)],
        apply: async () => {
          await send(config, ctx.aws.iam, new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }), NOT_FOUND);
          ctx.state.forget(id);
        },
      });
    }
    return out;
  },
});

/** Reverse order of the steps. */
export const teardownSteps: Step[] = [inlinePolicies, glooRelease, valuesFile, vaultSide, vaultRelease, iamPolicies, iamRoles, oidcProviders].map((s) => ({
  ...s,
  async check(ctx: Ctx): Promise<Action[]> {
    const out = await s.check(ctx);
    return out.length ? out : [{ what: 'nothing to delete', change: 'none', note: 'the runbook recorded no such resource as created' }];
  },
}));

if (isMain(import.meta.url)) await main(teardownSteps);
