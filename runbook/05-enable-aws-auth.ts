// Step 05: the AWS auth method (SPEC §05): `vault auth enable aws`
// = POST sys/auth/<mount> {"type":"aws"}, after reading sys/auth.
import { defineStep, type Ctx } from '../lib/step.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import type { Vault } from '../lib/vault.js';
import { authEnableCommand } from '../lib/vault-documents.js';
import { vaultOf } from './04-install-vault.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const AUTH_DESCRIPTION = 'AWS IAM logins for Gloo Edge (vault-irsa-runbook)';

/** The mount table entry at `<path>/` of sys/auth or sys/mounts. */
export async function mountEntry(vault: Vault, table: 'sys/auth' | 'sys/mounts', path: string): Promise<{ type?: string; options?: Record<string, string> | null } | undefined> {
  const res = await vault.read(table);
  const data = ((res?.data as Record<string, unknown> | undefined) ?? res ?? {}) as Record<string, { type?: string; options?: Record<string, string> | null }>;
  return data[`${path}/`];
}

async function liveType(ctx: Ctx, vault: Vault): Promise<string | undefined> {
  const m = await mountEntry(vault, 'sys/auth', ctx.config.authMount);
  return m?.type;
}

export const step = defineStep({
  id: '05',
  name: 'enable-aws-auth',
  title: 'Vault AWS auth method',

  reference(v) {
    return [authEnableCommand(v.config)];
  },

  async check(ctx) {
    const { config } = ctx;
    const vault = await vaultOf(ctx);
    const what = `Vault auth method aws at ${config.authMount}/`;
    const type = await liveType(ctx, vault);
    if (type === 'aws') return [{ what, change: 'none', note: 'enabled' }];
    if (type) throw new ConfigError(`Vault auth path ${config.authMount}/ already holds a ${type} auth method: set VAULT_AUTH_MOUNT to a free path (or remove that method yourself)`);
    return [
      {
        what,
        change: 'create',
        commands: [authEnableCommand(config)],
        apply: async () => {
          await vault.write(`sys/auth/${config.authMount}`, { type: 'aws', description: AUTH_DESCRIPTION });
          ctx.state.markCreated(`vault-auth:${config.authMount}`);
        },
      },
    ];
  },

  async verify(ctx) {
    const type = await liveType(ctx, await vaultOf(ctx));
    if (type !== 'aws') throw new VerificationError(`sys/auth shows no aws method at ${ctx.config.authMount}/`);
    return `auth method aws enabled at ${ctx.config.authMount}/`;
  },
});

if (isMain(import.meta.url)) await main([step]);
