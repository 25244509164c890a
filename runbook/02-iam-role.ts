// Step 02: the IAM role the gloo and discovery service accounts assume
// through IRSA (GUIDE §02). The trust policy uses StringEquals on aud and sub.
import { defineStep, type Ctx } from '../lib/step.js';
import { deleteRole } from '../lib/delete.js';
import { VerificationError } from '../lib/errors.js';
import { checkGivenArn } from '../lib/arn-checks.js';
import { getRole, roleAction, createRoleCommands } from '../lib/iam-role.js';
import { exportFrom, raw } from '../lib/shell.js';
import { awsCli } from '../lib/aws-cli.js';
import { glooTrust, sameDocument, serialize } from '../lib/iam-documents.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const ROLE_DESCRIPTION = 'Gloo Edge reads Vault secrets through IRSA (vault-irsa-runbook)';

export const step = defineStep({
  id: '02',
  name: 'iam-role',
  title: 'IAM role for the gloo and discovery service accounts',
  needs: ['account', 'providerArn', 'oidcProvider'],
  prefetch: (ctx) => getRole(ctx, ctx.config.roleName),
  // Lost state: the role ARN is read back from IAM.
  provides: [{ key: 'roleArn', recover: async (ctx: Ctx) => (await getRole(ctx, ctx.config.roleName))?.arn }],

  reference(v) {
    const c = v.config;
    const trust = serialize(glooTrust(c, v.providerArn, v.oidcProvider));
    return [
      ...createRoleCommands({ config: c }, c.roleName, trust, ROLE_DESCRIPTION),
      raw(exportFrom('VAULT_AUTH_ROLE_ARN', awsCli(c, 'iam', 'get-role', '--role-name', c.roleName, '--query', 'Role.Arn', '--output', 'text'))),
    ];
  },

  async check(ctx) {
    const s = ctx.state.values();
    checkGivenArn(ctx.config, s.account!);
    const trust = glooTrust(ctx.config, s.providerArn!, s.oidcProvider!);
    return [await roleAction(ctx, ctx.config.roleName, trust, ROLE_DESCRIPTION, (arn) => ctx.state.set({ roleArn: arn }))];
  },

  async verify(ctx) {
    const live = await getRole(ctx, ctx.config.roleName);
    const s = ctx.state.values();
    if (!live) throw new VerificationError(`IAM role ${ctx.config.roleName} is not there after the step: run step 02 again`);
    if (!sameDocument(live.trust, glooTrust(ctx.config, s.providerArn!, s.oidcProvider!))) throw new VerificationError(`the trust policy of ${ctx.config.roleName} still differs from the wanted one`);
    return `role ${live.arn} trusts ${ctx.config.serviceAccounts.map((sa) => `${ctx.config.namespace}:${sa}`).join(', ')}`;
  },

  async teardown(ctx) {
    return Promise.all(ctx.state.createdBy(ctx.stepId, 'iam-role').map((r) => deleteRole(ctx, r, () => {
      if (r.name === ctx.config.roleName) ctx.state.set({ roleArn: undefined });
    })));
  },

  teardownReference: (v) => [awsCli(v.config, 'iam', 'delete-role', '--role-name', v.config.roleName)],
});

if (isMain(import.meta.url)) void main([step]);
