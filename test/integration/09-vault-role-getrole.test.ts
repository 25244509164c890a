// Step 09 and the guide's troubleshooting section, in the lab: writing the
// role makes the Vault server call iam:GetRole as its own AWS identity (the
// Vault server role of step 03, via web identity). With moto's IAM checks on,
// that works while the role's policy allows iam:GetRole, and fails with the
// guide's implicit-deny error once the permission is removed. The policy is
// put back at once: other test files share that role.
// run.ts lane: alone (about 1 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import crypto from 'node:crypto';
import { DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s05 } from '../../runbook/05-enable-aws-auth.js';
import { step as s08 } from '../../runbook/08-aws-auth-config.js';
import { step as s09 } from '../../runbook/09-vault-role.js';
import { lab, labConfig, mutating, run } from '../helpers/lab.js';
import { withMotoEnforcement } from '../../lab/lib/lab.js';
import { vaultRoleName, type Config } from '../../lib/config.js';
import { RemoteError, formatError } from '../../lib/errors.js';
import { serialize, vaultServerPolicy } from '../../lib/iam-documents.js';

const id = crypto.randomBytes(3).toString('hex');
const AUTH = `aws-t09-${id}`;
let config: Config;
let iam: IAMClient;

async function vapi(method: string, path: string): Promise<Record<string, any> | undefined> {
  const l = lab();
  const res = await fetch(`${l.vaultAddr}/v1/${path}`, { method, headers: { 'X-Vault-Token': l.vaultToken } });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as Record<string, any>) : undefined;
}

const rolePath = () => `auth/${AUTH}/role/${vaultRoleName(config)}`;

test.before(async () => {
  const l = lab();
  config = labConfig({ CLUSTER_NAME: l.vaultCluster, VAULT_AWS_ENDPOINT_URL: l.stsProxyUrl, VAULT_AUTH_MOUNT: AUTH, VAULT_POLICY_NAME: `pol-t09-${id}` });
  iam = new IAMClient({ region: l.region, endpoint: l.awsEndpoint, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey } });
  const r = await run([s01, s02, s03, s05, s08], config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  await vapi('DELETE', `sys/auth/${AUTH}`).catch(() => undefined);
});

test('with IAM checks on, step 09 succeeds: the Vault server role may call iam:GetRole', async () => {
  await vapi('DELETE', rolePath());
  const r = await withMotoEnforcement(true, () => run([s09], config));
  assert.is(r.error, undefined, r.output);
  assert.is(r.results[0]!.status, 'changed');
  const role = (await vapi('GET', rolePath()))!.data;
  assert.ok(role.bound_iam_principal_id?.[0], 'resolved to a unique id');
});

test('with iam:GetRole removed, step 09 fails with the guide\'s implicit deny, writes nothing, exits non-zero', async () => {
  await vapi('DELETE', rolePath());
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await withMotoEnforcement(true, async () => {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: config.vaultServerRoleName, PolicyName: config.vaultServerPolicyName }));
      try {
        return await run([s09], config);
      } finally {
        await iam.send(new PutRolePolicyCommand({ RoleName: config.vaultServerRoleName, PolicyName: config.vaultServerPolicyName, PolicyDocument: serialize(vaultServerPolicy()) }));
      }
    });
  } finally {
    // Make sure the shared role has its policy again even if the lines above failed half-way.
    await iam.send(new PutRolePolicyCommand({ RoleName: config.vaultServerRoleName, PolicyName: config.vaultServerPolicyName, PolicyDocument: serialize(vaultServerPolicy()) }));
  }
  assert.instance(r.error, RemoteError, r.output);
  const f = formatError(r.error);
  assert.is(f.exitCode, 4);
  assert.match(f.text, /unable to resolve ARN .* to internal ID/);
  if (process.env.SHOW) console.error(f.text);
  assert.match(f.text, `assumed-role/${config.vaultServerRoleName}/`);
  assert.is(f.text.split('\n').length, 1, f.text);
  assert.match(f.text, 'is not authorized to perform: iam:GetRole');
  assert.match(f.text, 'make step-03');
  assert.is(mutating(r).length, 1, 'the one refused write');
  assert.is(await vapi('GET', rolePath()), undefined, 'no role was written');

  // Permission back: the step converges.
  const ok = await run([s09], config);
  assert.is(ok.error, undefined, ok.output);
  assert.is(ok.results[0]!.status, 'changed');
});

test.run();
