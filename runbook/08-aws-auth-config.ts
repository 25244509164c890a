// Step 08: where the AWS auth method sends logins (GUIDE §08):
// auth/<mount>/config/client with iam_server_id_header_value, sts_endpoint and
// sts_region; against an emulator also iam_endpoint (VAULT_AWS_ENDPOINT_URL,
// the AWS endpoint as the Vault server reaches it).
import { defineStep, recordCreated, type Ctx } from '../lib/step.js';
import { VerificationError } from '../lib/errors.js';
import { fieldDiff } from '../lib/diff.js';
import { AUTH_DESCRIPTION, clientConfig, clientConfigCommand, liveClientConfig } from '../lib/vault-documents.js';
import { prefetchVault, requireAuthMount } from '../lib/vault-reach.js';
import { deleteVaultObject } from '../lib/delete.js';
import { vaultCli } from '../lib/shell.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

async function liveConfig(ctx: Ctx): Promise<Record<string, string> | undefined> {
  const res = await ctx.vault.read(`auth/${ctx.config.authMount}/config/client`);
  return liveClientConfig((res?.data ?? undefined) as Record<string, unknown> | undefined);
}

export const step = defineStep({
  id: '08',
  name: 'aws-auth-config',
  title: 'Vault AWS auth client config',
  vault: 'token',
  prefetch: (ctx) => prefetchVault(ctx, 'sys/auth', `auth/${ctx.config.authMount}/config/client`),

  reference(v) {
    return [clientConfigCommand(v.config, clientConfig(v.config))];
  },

  async check(ctx) {
    const { config } = ctx;
    const wanted = clientConfig(config);
    const what = `Vault auth/${config.authMount}/config/client`;
    const mounted = await requireAuthMount(ctx, '08');
    const live = mounted ? await liveConfig(ctx) : undefined;
    const diff = fieldDiff(live ?? {}, wanted);
    if (live && !diff) return [{ what, change: 'none', note: `STS ${wanted.sts_endpoint} (${wanted.sts_region}), server ID header ${wanted.iam_server_id_header_value}` }];
    const clear = Object.keys(wanted).filter((k) => wanted[k] === '' && live?.[k]);
    return [
      {
        what,
        change: live ? 'update' : 'create',
        ...(live ? { diff } : mounted ? {} : { note: 'after step 05 enables the auth method' }),
        commands: [clientConfigCommand(config, wanted, clear)],
        apply: async () => {
          await ctx.vault.write(`auth/${config.authMount}/config/client`, wanted);
          if (!live) recordCreated(ctx, { kind: 'vault-client-config', mount: config.authMount });
        },
      },
    ];
  },

  async verify(ctx) {
    const wanted = clientConfig(ctx.config);
    const live = await liveConfig(ctx);
    const diff = fieldDiff(live ?? {}, wanted);
    if (!live || diff) throw new VerificationError(`auth/${ctx.config.authMount}/config/client differs after the write: ${diff.split('\n')[0] ?? 'missing'}`);
    return `logins go to ${wanted.sts_endpoint} and must carry X-Vault-AWS-IAM-Server-ID ${wanted.iam_server_id_header_value}`;
  },

  // Recorded, or under an auth method the runbook made.
  async teardown(ctx) {
    const { authMount } = ctx.config;
    const auth = await ctx.vault.mountEntry('sys/auth', authMount);
    const path = `auth/${authMount}/config/client`;
    const resource = { kind: 'vault-client-config', mount: authMount } as const;
    const a = await deleteVaultObject(ctx, {
      resource,
      what: `Vault ${path}`,
      exists: auth?.type === 'aws' && Boolean(await ctx.vault.read(path)),
      ours: ctx.state.wasCreated(resource) || auth?.description === AUTH_DESCRIPTION,
      why: 'not written by the runbook, under an auth method it did not make',
      path,
      command: ['delete', path],
    });
    return a ? [a] : [];
  },

  teardownReference: (v) => [vaultCli(v.config.vaultK8sNamespace, 'delete', `auth/${v.config.authMount}/config/client`)],
});

if (isMain(import.meta.url)) void main([step]);
