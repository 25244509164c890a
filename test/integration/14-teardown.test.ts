// Teardown in the lab after the real steps 01-12: asks unless --yes, a dry run
// deletes nothing, --yes removes every role, policy, provider, Vault mount, auth
// method and policy the runbook created — and nothing it did not create (the
// lab's shared Vault server role, a KV mount made by someone else); a second
// teardown finds nothing to do.
// run.ts lane: names (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { GetRoleCommand, ListOpenIDConnectProvidersCommand, ListPoliciesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { teardownSteps } from '../helpers/teardown.js';
import { lab, mutating, run } from '../helpers/lab.js';
import { State, resourceId } from '../../lib/state.js';
import { ConfirmationError } from '../../lib/errors.js';
import { iamClient, setup, vapi, type TestSetup } from './10-13-setup.js';

let t: TestSetup;
let created: string[] = [];
const FOREIGN_KV = () => `foreign-${t.names.kv}`;

async function listing() {
  const iam = iamClient();
  const roles = (await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles?.map((r) => r.RoleName!) ?? [];
  const policies = (await iam.send(new ListPoliciesCommand({ Scope: 'Local', MaxItems: 1000 }))).Policies?.map((p) => p.Arn!) ?? [];
  const providers = (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList?.map((p) => p.Arn!) ?? [];
  const auth = Object.keys((await vapi('GET', 'sys/auth'))!.data);
  const mounts = Object.keys((await vapi('GET', 'sys/mounts'))!.data);
  const vpolicies = ((await vapi('LIST', 'sys/policies/acl'))!.data.keys as string[]) ?? [];
  return { roles, policies, providers, auth, mounts, vpolicies };
}

test.before(async () => {
  t = await setup('tdn');
  // Someone else's KV v2 mount, used as Gloo's pathPrefix: the runbook did not create it.
  await vapi('POST', `sys/mounts/${FOREIGN_KV()}`, { type: 'kv', description: 'not the runbook', options: { version: '2' } });
  t.config = { ...t.config, kvMount: FOREIGN_KV() };
  const r = await run(await loadSteps({ to: 12 }), t.config);
  assert.is(r.error, undefined, r.output);
  created = new State(t.config.stateFile, t.config, false).created().map(resourceId);
});

test.after(async () => {
  await vapi('DELETE', `sys/mounts/${FOREIGN_KV()}`).catch(() => undefined);
});

test('the runbook recorded what it created', () => {
  const s = new State(t.config.stateFile, t.config, false).values();
  assert.ok(created.includes(`iam-role:${t.names.role}`), created.join(', '));
  assert.ok(created.some((c) => c.startsWith('iam-policy:')), created.join(', '));
  assert.ok(created.includes(`oidc-provider:${s.providerArn}`) || created.every((c) => !c.startsWith('oidc-provider:')), 'provider recorded when created here');
  assert.ok(created.includes(`file:${s.valuesFile}`), created.join(', '));
  assert.not.ok(created.includes(`iam-role:${t.config.vaultServerRoleName}`), 'the shared Vault server role existed before');
});

test('without --yes (no terminal) nothing is deleted; a dry run lists the deletions and writes nothing', async () => {
  const refused = await run(teardownSteps, t.config, { yes: false });
  assert.instance(refused.error, ConfirmationError, refused.output);
  assert.is(mutating(refused).length, 0);
  const dry = await run(teardownSteps, t.config, { mode: 'dry-run' });
  assert.is(dry.error, undefined, dry.output);
  assert.is(mutating(dry).length, 0, JSON.stringify(mutating(dry)));
  assert.match(dry.output, `would delete IAM role ${t.names.role}`);
  assert.match(dry.output, `would delete Vault auth method aws at ${t.names.auth}/`);
  assert.match(dry.output, `would delete Vault policy ${t.names.policy}`);
  assert.match(dry.output, `kept: not created by the runbook`);
});

test('--yes: nothing the runbook created is left, and nothing else was touched', async () => {
  const s = new State(t.config.stateFile, t.config, false).values();
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
  const after = await listing();
  assert.not.ok(after.roles.includes(t.names.role), 'Gloo role');
  assert.not.ok(after.policies.includes(s.policyArn!), 'IAM policy');
  if (created.includes(`oidc-provider:${s.providerArn}`)) assert.not.ok(after.providers.includes(s.providerArn!), 'provider');
  assert.not.ok(after.auth.includes(`${t.names.auth}/`), 'auth method');
  assert.not.ok(after.vpolicies.includes(t.names.policy), 'Vault policy');
  assert.not.ok(fs.existsSync(s.valuesFile!), 'values file');
  // Kept: what the runbook did not create.
  assert.ok(after.mounts.includes(`${FOREIGN_KV()}/`), 'the foreign KV mount is still there');
  await iamClient().send(new GetRoleCommand({ RoleName: t.config.vaultServerRoleName }));
  assert.equal(new State(t.config.stateFile, t.config, false).created().map(resourceId), []);
  void lab();
});

test('a second teardown deletes nothing', async () => {
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
  assert.is(mutating(r).length, 0, JSON.stringify(mutating(r)));
});

test.run();
