// Step 12 (`make verify`): prove the whole chain Gloo depends on, link by link:
//   1 a web-identity token for the gloo service account (kubectl create token, or
//     SA_TOKEN_COMMAND: in the lab, the lab issuer),
//   2 its sub/aud against the role's live trust policy (and the OIDC provider),
//   3 sts:AssumeRoleWithWebIdentity,
//   4 the Vault IAM login: GetCallerIdentity signed with the server-ID header,
//   5 as Gloo would: write, read back and delete a Gloo Secret in KV v2 with the
//     token from the login,
//   6 on a cluster with Gloo installed: the running gloo pod's spec carries
//     AWS_ROLE_ARN = the role and AWS_WEB_IDENTITY_TOKEN_FILE,
//   7 there too: Gloo's own Vault login, from the login counters on the running
//     gloo pods' metrics (:9091/metrics through the API server's pod proxy).
// Each link prints ok or failed with the reason; the first broken one ends the
// run with VerificationError (exit 6). Link 7 can also be "not checked" (metrics
// that cannot be read): not a failure, and the summary line says it was not checked.
import { defineStep } from '../lib/step.js';
import { VerificationError } from '../lib/errors.js';
import { cmd, exportFrom, raw } from '../lib/shell.js';
import { awsCli } from '../lib/aws-cli.js';
import { STS_AUDIENCE } from '../lib/iam-documents.js';
import { tokenCommand } from '../lib/web-identity.js';
import { GLOO_SA, TEST_SECRET, brokenLink, glooSecretPath, prefetchToken, verifyChain, type Link } from '../lib/verify-chain.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export { verifyChain, type Link } from '../lib/verify-chain.js';

/** Pure: what a passing verify proved, and no more (links: those reported; notApplicable: why links 6 and 7 were not, if they were not). */
export function verifySummary(links: Link[], kvMount: string, notApplicable: string): string {
  const held = links.filter((l) => l.ok).length;
  const chain = `a token for Gloo's service account reaches its secrets in ${kvMount}/`;
  if (!links.some((l) => l.n === 6)) return `all ${held} links hold: ${chain}; the running gloo pod (link 6) and Gloo's own Vault login (link 7) were not checked (${notApplicable || 'not reached'})`;
  const login = links.find((l) => l.n === 7);
  const gloo = !login ? "Gloo's own Vault login (link 7) was not checked (not reached)"
    : login.ok ? login.detail
      : `Gloo's own Vault login (link 7) was not checked: ${login.detail}`;
  return `all ${held} links hold: ${chain}; the running gloo pod carries the role; ${gloo}`;
}

export const step = defineStep({
  id: '12',
  name: 'verify',
  title: 'Verify: IRSA token -> STS -> Vault login -> KV (as Gloo)',
  needs: ['account', 'roleArn'],
  // The token link 1 needs, asked for before anything else (lib/verify-chain.ts).
  startEarly: (ctx) => prefetchToken(ctx),

  reference(v) {
    const c = v.config;
    const secret = `${c.rootKey}/gloo.solo.io/v1/Secret/${c.namespace}/${TEST_SECRET}`;
    const asGloo = 'VAULT_TOKEN="$GLOO_VAULT_TOKEN"';
    return [
      raw(`# 1 a web-identity token for the gloo service account\n${exportFrom('TOKEN', cmd(...tokenCommand(c, c.namespace, GLOO_SA)))}`),
      raw(`# 2 compare its sub/aud with the role's trust policy\necho "$TOKEN" | cut -d. -f2 | base64 -d 2>/dev/null; echo\n${awsCli(c, 'iam', 'get-role', '--role-name', c.roleName, '--query', 'Role.AssumeRolePolicyDocument')}`),
      raw([
        "# 3 assume the role with it: Gloo's temporary AWS credentials (kept apart from your own)",
        `GLOO_CREDS=$(${awsCli(c, 'sts', 'assume-role-with-web-identity', '--role-arn', v.roleArn, '--role-session-name', 'vault-irsa-verify', '--web-identity-token', '$TOKEN', '--query', 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]', '--output', 'text')}) \\`,
        '  && read -r GLOO_AWS_ACCESS_KEY_ID GLOO_AWS_SECRET_ACCESS_KEY GLOO_AWS_SESSION_TOKEN <<< "$GLOO_CREDS"',
      ].join('\n')),
      raw([
        '# 4 log in to Vault as Gloo does, with those credentials; its token is GLOO_VAULT_TOKEN (your VAULT_TOKEN stays yours)',
        'GLOO_VAULT_TOKEN=$(AWS_ACCESS_KEY_ID="$GLOO_AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$GLOO_AWS_SECRET_ACCESS_KEY" AWS_SESSION_TOKEN="$GLOO_AWS_SESSION_TOKEN" \\',
        `  ${cmd('vault', 'login', '-token-only', '-no-store', `-path=${c.authMount}`, '-method=aws', `header_value=${c.iamServerIdHeader}`, `role=${c.roleName.toLowerCase()}`, `region=${c.region}`)}) && export GLOO_VAULT_TOKEN`,
      ].join('\n')),
      raw([
        '# 5 write, read and delete a Gloo secret with that token',
        `${asGloo} ${cmd('vault', 'kv', 'put', `-mount=${c.kvMount}`, secret, `metadata={"name":"${TEST_SECRET}","namespace":"${c.namespace}"}`)} \\`,
        `  && ${asGloo} ${cmd('vault', 'kv', 'get', `-mount=${c.kvMount}`, secret)} \\`,
        `  && ${asGloo} ${cmd('vault', 'kv', 'metadata', 'delete', `-mount=${c.kvMount}`, secret)}`,
      ].join('\n')),
    ];
  },

  async check(ctx) {
    if (ctx.mode === 'dry-run') {
      return [{ what: 'the IRSA -> STS -> Vault -> KV chain', change: 'skip', note: `not run in a dry run: it writes and deletes a test secret ${glooSecretPath(ctx.config, ctx.config.namespace, TEST_SECRET)} (run make verify)` }];
    }
    return [];
  },

  async verify(ctx) {
    let podsNotChecked = '';
    const links = await verifyChain(ctx, { onPodsNotChecked: (why) => { podsNotChecked = why; } }, (l, ms) => log.action(l.ok ? 'ok' : l.notChecked ? 'not checked' : 'failed', `${l.n} ${l.name}`, ms, l.detail));
    const broken = brokenLink(links);
    if (broken) throw new VerificationError(`link ${broken.n} (${broken.name}) is broken: ${broken.detail}`);
    return verifySummary(links, ctx.config.kvMount, podsNotChecked);
  },
});

if (isMain(import.meta.url)) void main([step]);
