// Step 05: the AWS auth method (GUIDE §05): `vault auth enable aws`
// = POST sys/auth/<mount> {"type":"aws"}, after reading sys/auth.
import { defineStep, recordCreated, type Ctx } from '../lib/step.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import { AUTH_DESCRIPTION, authEnableCommand } from '../lib/vault-documents.js';
import { deleteVaultObject } from '../lib/delete.js';
import { vaultCli } from '../lib/shell.js';
import { prefetchVault } from '../lib/vault-reach.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

async function liveType(ctx: Ctx): Promise<string | undefined> {
  return (await ctx.vault.mountEntry('sys/auth', ctx.config.authMount))?.type;
}

export const step = defineStep({
  id: '05',
  name: 'enable-aws-auth',
  title: 'Vault AWS auth method',
  vault: 'token',
  prefetch: (ctx) => prefetchVault(ctx, 'sys/auth'),

  reference(v) {
    return [authEnableCommand(v.config)];
  },

  async check(ctx) {
    const { config } = ctx;
    const what = `Vault auth method aws at ${config.authMount}/`;
    const type = await liveType(ctx);
    if (type === 'aws') return [{ what, change: 'none', note: 'enabled' }];
    if (type) throw new ConfigError(`Vault auth path ${config.authMount}/ already holds a ${type} auth method: set VAULT_AUTH_MOUNT to a free path (or remove that method yourself)`);
    return [
      {
        what,
        change: 'create',
        commands: [authEnableCommand(config)],
        apply: async () => {
          await ctx.vault.write(`sys/auth/${config.authMount}`, { type: 'aws', description: AUTH_DESCRIPTION });
          recordCreated(ctx, { kind: 'vault-auth', mount: config.authMount });
        },
      },
    ];
  },

  async verify(ctx) {
    const type = await liveType(ctx);
    if (type !== 'aws') throw new VerificationError(`sys/auth shows no aws method at ${ctx.config.authMount}/`);
    return `auth method aws enabled at ${ctx.config.authMount}/`;
  },

  // Recorded, or carrying the runbook's description: disabling it takes its roles and config along.
  async teardown(ctx) {
    const { authMount } = ctx.config;
    const live = await ctx.vault.mountEntry('sys/auth', authMount);
    const resource = { kind: 'vault-auth', mount: authMount } as const;
    const a = await deleteVaultObject(ctx, {
      resource,
      what: `Vault auth method aws at ${authMount}/`,
      exists: Boolean(live),
      ours: live?.type === 'aws' && (ctx.state.wasCreated(resource) || live.description === AUTH_DESCRIPTION),
      why: 'not created by the runbook (no record, other description)',
      path: `sys/auth/${authMount}`,
      command: ['auth', 'disable', `${authMount}/`],
    });
    return a ? [a] : [];
  },

  teardownReference: (v) => [vaultCli(v.config.vaultK8sNamespace, 'auth', 'disable', `${v.config.authMount}/`)],
});

if (isMain(import.meta.url)) void main([step]);
