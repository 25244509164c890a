// Step 07: the Vault policy bound to Gloo's role (GUIDE §07): `vault policy
// write dev policy.hcl` = PUT sys/policies/acl/dev. Drift is judged on the
// normalised text (comments, layout and order do not count).
import { defineStep, recordCreated } from '../lib/step.js';
import { VerificationError } from '../lib/errors.js';
import type { Config } from '../lib/config.js';
import { cmd, heredoc, raw, vaultCli } from '../lib/shell.js';
import { deleteVaultObject } from '../lib/delete.js';
import { textDiff } from '../lib/diff.js';
import { glooPolicyHcl, samePolicy } from '../lib/vault-policy.js';
import { prefetchVault } from '../lib/vault-reach.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

const POLICY_FILE = 'policy.hcl';

/** Pure: the guide's commands, run from outside the pod (the file goes in on stdin). */
export function policyCommands(config: Config): string[] {
  return [
    heredoc(POLICY_FILE, glooPolicyHcl(config.kvMount)),
    `${cmd('kubectl', 'exec', '-i', '-n', config.vaultK8sNamespace, 'vault-0', '--', 'vault', 'policy', 'write', config.vaultPolicyName, '-')} < ${POLICY_FILE}`,
    raw(`rm -f ${POLICY_FILE}`),
  ];
}

export const step = defineStep({
  id: '07',
  name: 'vault-policy',
  title: 'Vault policy for Gloo',
  vault: 'token',
  prefetch: (ctx) => prefetchVault(ctx, `sys/policies/acl/${ctx.config.vaultPolicyName}`),

  reference(v) {
    return policyCommands(v.config);
  },

  async check(ctx) {
    const { config } = ctx;
    const wanted = glooPolicyHcl(config.kvMount);
    const live = await ctx.vault.policyText(config.vaultPolicyName);
    const what = `Vault policy ${config.vaultPolicyName}`;
    if (live !== undefined && samePolicy(live, wanted)) return [{ what, change: 'none', note: `${config.kvMount}/* read-write, sys/mounts read` }];
    return [
      {
        what,
        change: live === undefined ? 'create' : 'update',
        ...(live !== undefined ? { diff: textDiff(live, wanted, 'policy') } : {}),
        commands: policyCommands(config),
        apply: async () => {
          await ctx.vault.write(`sys/policies/acl/${config.vaultPolicyName}`, { policy: wanted });
          if (live === undefined) recordCreated(ctx, { kind: 'vault-policy', name: config.vaultPolicyName });
        },
      },
    ];
  },

  async verify(ctx) {
    const live = await ctx.vault.policyText(ctx.config.vaultPolicyName);
    if (live === undefined || !samePolicy(live, glooPolicyHcl(ctx.config.kvMount))) throw new VerificationError(`Vault policy ${ctx.config.vaultPolicyName} is missing or differs`);
    return `policy ${ctx.config.vaultPolicyName} as wanted`;
  },

  // Recorded, or exactly the text the runbook writes.
  async teardown(ctx) {
    const { vaultPolicyName: name, kvMount } = ctx.config;
    const text = await ctx.vault.policyText(name);
    const resource = { kind: 'vault-policy', name } as const;
    const a = await deleteVaultObject(ctx, {
      resource,
      what: `Vault policy ${name}`,
      exists: text !== undefined,
      ours: ctx.state.wasCreated(resource) || text === glooPolicyHcl(kvMount),
      why: 'its text is not the one the runbook writes and the runbook has no record of creating it',
      path: `sys/policies/acl/${name}`,
      command: ['policy', 'delete', name],
    });
    return a ? [a] : [];
  },

  teardownReference: (v) => [vaultCli(v.config.vaultK8sNamespace, 'policy', 'delete', v.config.vaultPolicyName)],
});

if (isMain(import.meta.url)) void main([step]);
