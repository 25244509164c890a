// Step 09: the AWS auth role Gloo logs in with (GUIDE §09):
// auth/<mount>/role/<name> auth_type=iam, bound_iam_principal_arn=<role from
// step 02>, token_policies=<policy>, token_max_ttl=24h. Writing it makes the
// Vault server call iam:GetRole (resolve_aws_unique_ids): the guide's
// "implicit deny" when its AWS identity may not.
import { defineStep, recordCreated, type Ctx } from '../lib/step.js';
import { RemoteError, RunbookError, VerificationError } from '../lib/errors.js';
import { vaultRoleName } from '../lib/config.js';
import { fieldDiff } from '../lib/diff.js';
import { AUTH_DESCRIPTION, liveRole, roleCommand, roleDeleteCommand, rolePayload, roleWanted } from '../lib/vault-documents.js';
import { prefetchVault, requireAuthMount } from '../lib/vault-reach.js';
import { getRole } from '../lib/iam-role.js';
import { IAM_EVENTUAL_WHY, untilVisible, vaultArnNotYetVisible } from '../lib/eventual.js';
import { deleteVaultObject } from '../lib/delete.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

function rolePath(ctx: Pick<Ctx, 'config'>): string {
  return `auth/${ctx.config.authMount}/role/${vaultRoleName(ctx.config)}`;
}

async function readRole(ctx: Ctx): Promise<Record<string, unknown> | undefined> {
  const res = await ctx.vault.read(rolePath(ctx));
  return (res?.data ?? undefined) as Record<string, unknown> | undefined;
}

/**
 * Vault's answer when it cannot resolve the bound ARN (iam:GetRole as its own
 * AWS identity), turned into the guide's troubleshooting sentence with the way
 * out. Where Vault's text lost AWS's detail (an error body its SDK could not
 * parse leaves only "status code: 403"), the likely cause is still named.
 */
export function explainGetRoleDenied(err: unknown, ctx: Pick<Ctx, 'config'>): unknown {
  if (!(err instanceof RunbookError) || !/unable to resolve ARN|iam:GetRole/.test(err.message)) return err;
  if (/NoSuchEntity/.test(err.message)) return err;
  const vaultSaid = err.message.replace(/^Vault POST \S+ failed \(HTTP \d+\): /, '').replace(/[:\s]+$/, '');
  const who = ctx.config.vaultServerIdentity === 'role' ? `the Vault server's AWS identity (role ${ctx.config.vaultServerRoleName})` : "the Vault server's AWS identity (the node's role)";
  const fix = ctx.config.vaultServerIdentity === 'role'
    ? 'run `make step-03` to give that role its iam:GetRole policy, then run this step again'
    : 'set VAULT_SERVER_IDENTITY=role and run steps 03-04, or see `make troubleshoot`';
  if (/iam:GetRole/.test(vaultSaid)) {
    return new RemoteError('vault', `POST ${rolePath(ctx)}`, `Vault could not write ${rolePath(ctx)}: ${vaultSaid} (the guide's "implicit deny": ${who} needs iam:GetRole): ${fix}`, (err as RemoteError).code);
  }
  return new RemoteError('vault', `POST ${rolePath(ctx)}`, `Vault could not write ${rolePath(ctx)}: ${vaultSaid} — ${who} is most likely not authorized to perform: iam:GetRole (the guide's "implicit deny"): ${fix}`, (err as RemoteError).code);
}

/** The unique-ID binding when it no longer names the live IAM role (re-created under the same name): a diff line. */
async function staleBinding(ctx: Ctx, data: Record<string, unknown>): Promise<string> {
  const ids = Array.isArray(data.bound_iam_principal_id) ? data.bound_iam_principal_id.map(String).filter(Boolean) : [];
  if (!ids.length) return '';
  const role = await getRole(ctx, ctx.config.roleName);
  if (!role?.id || ids.includes(role.id)) return '';
  return `bound_iam_principal_id: ${JSON.stringify(ids)} -> ${JSON.stringify([role.id])} (IAM role ${ctx.config.roleName} was re-created: Vault must resolve it again)`;
}

export const step = defineStep({
  id: '09',
  name: 'vault-role',
  title: 'Vault AWS auth role',
  needs: ['roleArn'],
  vault: 'token',
  // The role in Vault, and the IAM role whose unique ID Vault binds (staleBinding).
  prefetch: (ctx) => Promise.all([prefetchVault(ctx, 'sys/auth', rolePath(ctx)), getRole(ctx, ctx.config.roleName)]),

  reference(v) {
    return [roleCommand(v.config, v.roleArn)];
  },

  async check(ctx) {
    const { config, state } = ctx;
    const roleArn = state.get('roleArn')!;
    const wanted = roleWanted(config, roleArn);
    const what = `Vault role ${vaultRoleName(config)} on auth/${config.authMount}`;
    const mounted = await requireAuthMount(ctx, '09');
    const data = mounted ? await readRole(ctx) : undefined;
    const live = liveRole(data);
    // Vault binds the IAM role's unique ID, resolved when the role is written: a role
    // deleted and re-created under the same name (same ARN) is another principal.
    const diff = [fieldDiff(live ?? {}, wanted), data ? await staleBinding(ctx, data) : ''].filter(Boolean).join('\n');
    if (live && !diff) return [{ what, change: 'none', note: `bound to ${roleArn}, policy ${config.vaultPolicyName}` }];
    const write = async (): Promise<void> => {
      try {
        // Vault resolves the ARN with its own GetRole: a role made seconds ago may not be visible to it yet.
        await untilVisible(async () => (await ctx.vault.write(rolePath(ctx), rolePayload(config, roleArn)), true), {
          what: `IAM role ${roleArn} (as Vault resolves it)`,
          why: IAM_EVENTUAL_WHY,
          service: 'vault',
          action: `POST ${rolePath(ctx)}`,
          fix: 'check that step 02 made it (make step-02) and run this step again',
          transient: vaultArnNotYetVisible,
        });
        if (!live) recordCreated(ctx, { kind: 'vault-role', mount: config.authMount, role: vaultRoleName(config) });
      } catch (err) {
        throw explainGetRoleDenied(err, ctx);
      }
    };
    // Vault does not change the auth_type of an existing role: delete and re-create.
    if (live && live.auth_type !== 'iam') {
      return [
        {
          what: `${what} (auth_type ${String(live.auth_type)} -> iam: delete and re-create)`,
          change: 'update',
          destructive: true,
          diff,
          commands: [roleDeleteCommand(config), roleCommand(config, roleArn)],
          apply: async () => {
            await ctx.vault.delete(rolePath(ctx));
            await write();
          },
        },
      ];
    }
    return [
      {
        what,
        change: live ? 'update' : 'create',
        ...(live ? { diff } : mounted ? {} : { note: 'after step 05 enables the auth method' }),
        commands: [roleCommand(config, roleArn)],
        apply: write,
      },
    ];
  },

  async verify(ctx) {
    const data = await readRole(ctx);
    const diff = [fieldDiff(liveRole(data) ?? {}, roleWanted(ctx.config, ctx.state.get('roleArn')!)), data ? await staleBinding(ctx, data) : ''].filter(Boolean).join('\n');
    if (!data || diff) throw new VerificationError(`${rolePath(ctx)} differs after the write: ${diff.split('\n')[0] ?? 'missing'}`);
    const ids = Array.isArray(data.bound_iam_principal_id) ? data.bound_iam_principal_id.join(',') : '';
    return `role ${vaultRoleName(ctx.config)} bound to ${ctx.state.get('roleArn')}${ids ? ` (resolved to ${ids})` : ''}, policy ${ctx.config.vaultPolicyName}, max TTL 24h`;
  },

  // Recorded, or under an auth method the runbook made.
  async teardown(ctx) {
    const { authMount } = ctx.config;
    const auth = await ctx.vault.mountEntry('sys/auth', authMount);
    const resource = { kind: 'vault-role', mount: authMount, role: vaultRoleName(ctx.config) } as const;
    const a = await deleteVaultObject(ctx, {
      resource,
      what: `Vault role ${resource.role} on auth/${authMount}`,
      exists: auth?.type === 'aws' && Boolean(await readRole(ctx)),
      ours: ctx.state.wasCreated(resource) || auth?.description === AUTH_DESCRIPTION,
      why: 'not written by the runbook, under an auth method it did not make',
      path: rolePath(ctx),
      command: ['delete', rolePath(ctx)],
    });
    return a ? [a] : [];
  },

  teardownReference: (v) => [roleDeleteCommand(v.config)],
});

if (isMain(import.meta.url)) void main([step]);
