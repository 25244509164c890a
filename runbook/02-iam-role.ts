// Step 02: the IAM role the gloo and discovery service accounts assume
// through IRSA (SPEC §02). The trust policy uses StringEquals on aud and sub.
import { defineStep, type Ctx } from '../lib/step.js';
import { VerificationError } from '../lib/errors.js';
import { checkGivenArn } from '../lib/arn-checks.js';
import { getRole, roleAction, createRoleCommands } from '../lib/iam-role.js';
import { raw } from '../lib/shell.js';
import { awsCli } from '../lib/aws-cli.js';
import { sameDocument, serialize, trustPolicy } from '../lib/iam-documents.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const ROLE_DESCRIPTION = 'Gloo Edge reads Vault secrets through IRSA (vault-irsa-runbook)';

export function wantedTrust(ctx: Pick<Ctx, 'config'>, providerArn: string, oidcProvider: string) {
  return trustPolicy({ providerArn, oidcProvider, namespace: ctx.config.namespace, serviceAccounts: ctx.config.serviceAccounts });
}

export const step = defineStep({
  id: '02',
  name: 'iam-role',
  title: 'IAM role for the gloo and discovery service accounts',
  needs: [
    { key: 'account', step: '01' },
    { key: 'providerArn', step: '01' },
    { key: 'oidcProvider', step: '01' },
  ],

  reference(v) {
    const c = v.config;
    const trust = serialize(wantedTrust({ config: c }, v.providerArn, v.oidcProvider));
    return [
      ...createRoleCommands({ config: c }, c.roleName, trust, ROLE_DESCRIPTION),
      raw(`export VAULT_AUTH_ROLE_ARN=$(${awsCli(c, 'iam', 'get-role', '--role-name', c.roleName, '--query', 'Role.Arn', '--output', 'text')})`),
    ];
  },

  async check(ctx) {
    const s = ctx.state.values();
    checkGivenArn(ctx.config, s.account!);
    const trust = wantedTrust(ctx, s.providerArn!, s.oidcProvider!);
    return [await roleAction(ctx, ctx.config.roleName, trust, ROLE_DESCRIPTION, (arn) => ctx.state.set({ roleArn: arn }))];
  },

  async verify(ctx) {
    const live = await getRole(ctx, ctx.config.roleName);
    const s = ctx.state.values();
    if (!live) throw new VerificationError(`IAM role ${ctx.config.roleName} is not there after the step: run step 02 again`);
    if (!sameDocument(live.trust, wantedTrust(ctx, s.providerArn!, s.oidcProvider!))) throw new VerificationError(`the trust policy of ${ctx.config.roleName} still differs from the wanted one`);
    return `role ${live.arn} trusts ${ctx.config.serviceAccounts.map((sa) => `${ctx.config.namespace}:${sa}`).join(', ')}`;
  },
});

/** Lost state: the role ARN can be read back from IAM. */
export async function recoverRoleArn(ctx: Ctx): Promise<string | undefined> {
  return (await getRole(ctx, ctx.config.roleName))?.arn;
}

if (isMain(import.meta.url)) await main([step]);
