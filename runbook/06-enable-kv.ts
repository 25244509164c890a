// Step 06: the KV v2 engine Gloo reads (SPEC §05): `vault secrets enable
// -path=dev -version=2 kv` = POST sys/mounts/dev. A KV v1 mount at that path is
// reported and upgraded in place only when confirmed (--yes): the upgrade
// rewrites the data and cannot be undone.
import { defineStep, type Ctx } from '../lib/step.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import type { Vault } from '../lib/vault.js';
import { kvEnableCommand, kvUpgradeCommand } from '../lib/vault-documents.js';
import { vaultOf } from './04-install-vault.js';
import { mountEntry } from './05-enable-aws-auth.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const KV_DESCRIPTION = 'Gloo Edge secrets (vault-irsa-runbook)';

/** 'v2', 'v1', undefined (no mount); throws when the path holds another engine. */
async function kvVersion(ctx: Ctx, vault: Vault): Promise<'v1' | 'v2' | undefined> {
  const m = await mountEntry(vault, 'sys/mounts', ctx.config.kvMount);
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

  reference(v) {
    return [kvEnableCommand(v.config)];
  },

  async check(ctx) {
    const { config } = ctx;
    const vault = await vaultOf(ctx);
    const what = `Vault KV v2 engine at ${config.kvMount}/`;
    const version = await kvVersion(ctx, vault);
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
            await vault.write(`sys/mounts/${config.kvMount}/tune`, { options: { version: '2' } });
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
          await vault.write(`sys/mounts/${config.kvMount}`, { type: 'kv', description: KV_DESCRIPTION, options: { version: '2' } });
          ctx.state.markCreated(`vault-kv:${config.kvMount}`);
        },
      },
    ];
  },

  async verify(ctx) {
    const version = await kvVersion(ctx, await vaultOf(ctx));
    if (version !== 'v2') throw new VerificationError(`sys/mounts shows ${version ? 'KV v1' : 'no engine'} at ${ctx.config.kvMount}/`);
    return `KV v2 engine at ${ctx.config.kvMount}/`;
  },
});

if (isMain(import.meta.url)) await main([step]);
