// Step 07: the Vault policy bound to Gloo's role (SPEC §07): `vault policy
// write dev policy.hcl` = PUT sys/policies/acl/dev. Drift is judged on the
// normalised text (comments, layout and order do not count).
import { defineStep, type Ctx } from '../lib/step.js';
import { VerificationError } from '../lib/errors.js';
import type { Vault } from '../lib/vault.js';
import type { Config } from '../lib/config.js';
import { cmd, heredoc, raw } from '../lib/shell.js';
import { textDiff } from '../lib/diff.js';
import { glooPolicyHcl, normalizePolicy, samePolicy } from '../lib/vault-policy.js';
import { vaultOf } from './04-install-vault.js';
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

async function livePolicy(ctx: Ctx, vault: Vault): Promise<string | undefined> {
  const res = await vault.read(`sys/policies/acl/${ctx.config.vaultPolicyName}`);
  const data = (res?.data ?? res) as { policy?: string } | undefined;
  return data?.policy;
}

export const step = defineStep({
  id: '07',
  name: 'vault-policy',
  title: 'Vault policy for Gloo',

  reference(v) {
    return policyCommands(v.config);
  },

  async check(ctx) {
    const { config } = ctx;
    const vault = await vaultOf(ctx);
    const wanted = glooPolicyHcl(config.kvMount);
    const live = await livePolicy(ctx, vault);
    const what = `Vault policy ${config.vaultPolicyName}`;
    if (live !== undefined && samePolicy(live, wanted)) return [{ what, change: 'none', note: `${config.kvMount}/* read-write, sys/mounts read` }];
    return [
      {
        what,
        change: live === undefined ? 'create' : 'update',
        ...(live !== undefined ? { diff: textDiff(normalizePolicy(live), normalizePolicy(wanted), 'policy') } : {}),
        commands: policyCommands(config),
        apply: async () => {
          await vault.write(`sys/policies/acl/${config.vaultPolicyName}`, { policy: wanted });
          if (live === undefined) ctx.state.markCreated(`vault-policy:${config.vaultPolicyName}`);
        },
      },
    ];
  },

  async verify(ctx) {
    const live = await livePolicy(ctx, await vaultOf(ctx));
    if (live === undefined || !samePolicy(live, glooPolicyHcl(ctx.config.kvMount))) throw new VerificationError(`Vault policy ${ctx.config.vaultPolicyName} is missing or differs`);
    return `policy ${ctx.config.vaultPolicyName} as wanted`;
  },
});

if (isMain(import.meta.url)) await main([step]);
