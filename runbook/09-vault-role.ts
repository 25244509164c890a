// Step 09: the AWS auth role Gloo logs in with (SPEC §09):
// auth/<mount>/role/<name> auth_type=iam, bound_iam_principal_arn=<role from
// step 02>, token_policies=<policy>, token_max_ttl=24h. Writing it makes the
// Vault server call iam:GetRole (resolve_aws_unique_ids): the guide's
// "implicit deny" when its AWS identity may not.
import { defineStep, type Ctx } from '../lib/step.js';
import { RemoteError, RunbookError, VerificationError } from '../lib/errors.js';
import type { Vault } from '../lib/vault.js';
import { vaultRoleName } from '../lib/config.js';
import { fieldDiff } from '../lib/diff.js';
import { liveRole, roleCommand, roleDeleteCommand, rolePayload, roleWanted } from '../lib/vault-documents.js';
import { recoverRoleArn } from './02-iam-role.js';
import { requireAuthMount, vaultOf } from './04-install-vault.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

function rolePath(ctx: Pick<Ctx, 'config'>): string {
  return `auth/${ctx.config.authMount}/role/${vaultRoleName(ctx.config)}`;
}

async function readRole(ctx: Ctx, vault: Vault): Promise<Record<string, unknown> | undefined> {
  const res = await vault.read(rolePath(ctx));
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

export const step = defineStep({
  id: '09',
  name: 'vault-role',
  title: 'Vault AWS auth role',
  needs: [{ key: 'roleArn', step: '02', recover: recoverRoleArn }],

  reference(v) {
    return [roleCommand(v.config, v.roleArn)];
  },

  async check(ctx) {
    const { config, state } = ctx;
    const vault = await vaultOf(ctx);
    const roleArn = state.get('roleArn')!;
    const wanted = roleWanted(config, roleArn);
    const what = `Vault role ${vaultRoleName(config)} on auth/${config.authMount}`;
    const mounted = await requireAuthMount(ctx, vault, '09');
    const live = liveRole(mounted ? await readRole(ctx, vault) : undefined);
    const diff = fieldDiff(live ?? {}, wanted);
    if (live && !diff) return [{ what, change: 'none', note: `bound to ${roleArn}, policy ${config.vaultPolicyName}` }];
    const write = async (): Promise<void> => {
      try {
        await vault.write(rolePath(ctx), rolePayload(config, roleArn));
        if (!live) ctx.state.markCreated(`vault-role:${config.authMount}/${vaultRoleName(config)}`);
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
            await vault.delete(rolePath(ctx));
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
    const data = await readRole(ctx, await vaultOf(ctx));
    const diff = fieldDiff(liveRole(data) ?? {}, roleWanted(ctx.config, ctx.state.get('roleArn')!));
    if (!data || diff) throw new VerificationError(`${rolePath(ctx)} differs after the write: ${diff.split('\n')[0] ?? 'missing'}`);
    const ids = Array.isArray(data.bound_iam_principal_id) ? data.bound_iam_principal_id.join(',') : '';
    return `role ${vaultRoleName(ctx.config)} bound to ${ctx.state.get('roleArn')}${ids ? ` (resolved to ${ids})` : ''}, policy ${ctx.config.vaultPolicyName}, max TTL 24h`;
  },
});

if (isMain(import.meta.url)) await main([step]);
