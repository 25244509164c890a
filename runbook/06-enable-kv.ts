// Step 06: the KV v2 engine Gloo reads (GUIDE §05): `vault secrets enable
// -path=dev -version=2 kv` = POST sys/mounts/dev. A KV v1 mount at that path is
// reported and upgraded in place only when confirmed (--yes): the upgrade
// rewrites the data and cannot be undone.
import { defineStep, recordCreated, type Ctx } from '../lib/step.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import { KV_DESCRIPTION, kvEnableCommand, kvUpgradeCommand } from '../lib/vault-documents.js';
import { deleteVaultObject } from '../lib/delete.js';
import { vaultCli } from '../lib/shell.js';
import { prefetchVault } from '../lib/vault-reach.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

/** 'v2', 'v1', undefined (no mount); throws when the path holds another engine. */
async function kvVersion(ctx: Ctx): Promise<'v1' | 'v2' | undefined> {
  const m = await ctx.vault.mountEntry('sys/mounts', ctx.config.kvMount);
  if (!m) return undefined;
  if (m.type !== 'kv' && m.type !== 'generic') {
    throw new ConfigError(`Vault path ${ctx.config.kvMount}/ already holds a ${m.type} secrets engine, not KV: set VAULT_KV_MOUNT to a free path`);
  }
  return m.options?.version === '2' ? 'v2' : 'v1';
}

export const step = defineStep({
  id: '06',
  name: 'enable-kv',
  title: 'Vault KV v2 secrets engine',
  vault: 'token',
  prefetch: (ctx) => prefetchVault(ctx, 'sys/mounts'),

  reference(v) {
    return [kvEnableCommand(v.config)];
  },

  async check(ctx) {
    const { config } = ctx;
    const what = `Vault KV v2 engine at ${config.kvMount}/`;
    const version = await kvVersion(ctx);
    if (version === 'v2') return [{ what, change: 'none', note: 'kv version 2' }];
    if (version === 'v1') {
      return [
        {
          what: `KV v1 engine at ${config.kvMount}/ (upgrade to v2)`,
          change: 'update',
          destructive: true,
          note: 'Gloo needs KV v2; upgrading rewrites the existing secrets and cannot be undone, and the mount is unavailable while it runs',
          diff: 'options.version: "1" -> "2"',
          commands: [kvUpgradeCommand(config)],
          apply: async () => {
            await ctx.vault.write(`sys/mounts/${config.kvMount}/tune`, { options: { version: '2' } });
          },
        },
      ];
    }
    return [
      {
        what,
        change: 'create',
        commands: [kvEnableCommand(config)],
        apply: async () => {
          await ctx.vault.write(`sys/mounts/${config.kvMount}`, { type: 'kv', description: KV_DESCRIPTION, options: { version: '2' } });
          recordCreated(ctx, { kind: 'vault-kv', mount: config.kvMount });
        },
      },
    ];
  },

  async verify(ctx) {
    const version = await kvVersion(ctx);
    if (version !== 'v2') throw new VerificationError(`sys/mounts shows ${version ? 'KV v1' : 'no engine'} at ${ctx.config.kvMount}/`);
    return `KV v2 engine at ${ctx.config.kvMount}/`;
  },

  // Recorded, or carrying the runbook's description; its secrets go with it.
  async teardown(ctx) {
    const { kvMount } = ctx.config;
    const live = await ctx.vault.mountEntry('sys/mounts', kvMount);
    const resource = { kind: 'vault-kv', mount: kvMount } as const;
    const a = await deleteVaultObject(ctx, {
      resource,
      what: `Vault KV engine at ${kvMount}/ and every secret in it`,
      exists: Boolean(live),
      ours: ctx.state.wasCreated(resource) || live?.description === KV_DESCRIPTION,
      why: 'not created by the runbook (no record, other description)',
      path: `sys/mounts/${kvMount}`,
      command: ['secrets', 'disable', `${kvMount}/`],
    });
    return a ? [a] : [];
  },

  teardownReference: (v) => [vaultCli(v.config.vaultK8sNamespace, 'secrets', 'disable', `${v.config.kvMount}/`)],
});

if (isMain(import.meta.url)) void main([step]);
