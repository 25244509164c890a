// Teardown after a full flow with every name that matters changed from its
// default — cluster, NAMESPACE, VAULT_K8S_NAMESPACE, VAULT_KV_MOUNT,
// VAULT_AUTH_MOUNT (and the derived IAM names) — leaves nothing the runbook
// made: every record is gone from the state file and every resource from moto
// and Vault.
// run.ts lane: alone (about 3 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { GetPolicyCommand, GetRoleCommand, GetRolePolicyCommand, GetOpenIDConnectProviderCommand } from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { teardownSteps } from '../helpers/teardown.js';
import { run } from '../helpers/lab.js';
import { State, resourceId, type Created } from '../../lib/state.js';
import { iamClient, setup, vapi, type TestSetup } from './10-13-setup.js';

let t: TestSetup;
let records: Created[] = [];

test.before(async () => {
  t = await setup('tcn', { NAMESPACE: 'gloo-custom-ns', VAULT_K8S_NAMESPACE: 'vault-custom-ns', VAULT_AUTH_ROLE_NAME: '', VAULT_AUTH_POLICY_NAME: '' });
  // Names derived from the cluster name (defaults), not the shared test names.
  const { config } = t;
  t.config = { ...config, roleName: `dev-role-iam-${config.clusterName}`, policyName: `gloo-vault-auth-policy-${config.clusterName}` };
});

test('a full flow with non-default names ends with verify passing', async () => {
  assert.is(t.config.vaultK8sNamespace, 'vault-custom-ns');
  assert.is(t.config.namespace, 'gloo-custom-ns');
  assert.not.equal(t.config.kvMount, 'dev');
  assert.not.equal(t.config.authMount, 'aws');
  const r = await run(await loadSteps({ to: 12 }), t.config);
  assert.is(r.error, undefined, r.output);
  assert.match(r.output, 'all 5 links hold');
  records = new State(t.config.stateFile, t.config, false).created();
  const kinds = new Set(records.map((c) => c.kind));
  for (const k of ['iam-role', 'iam-policy', 'file', 'vault-auth', 'vault-kv', 'vault-policy', 'vault-client-config', 'vault-role'] as const) assert.ok(kinds.has(k), `${k} recorded: ${records.map(resourceId).join(', ')}`);
  // Every record names the step that owns it.
  for (const c of records) assert.match(c.step, /^\d\d$/);
});

test('teardown --yes leaves nothing the runbook made, and a second teardown finds nothing', async () => {
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.id), ['T13', 'T11', 'T10', 'T09', 'T08', 'T07', 'T06', 'T05', 'T04', 'T03', 'T02', 'T01']);
  assert.equal(new State(t.config.stateFile, t.config, false).created(), [], 'no record left');
  const iam = iamClient();
  const gone = (p: Promise<unknown>) => p.then(() => false, (e: { name?: string }) => e.name === 'NoSuchEntityException' || e.name === 'NoSuchEntity');
  for (const c of records) {
    const id = resourceId(c);
    if (c.kind === 'iam-role') assert.ok(await gone(iam.send(new GetRoleCommand({ RoleName: c.name }))), id);
    if (c.kind === 'iam-policy') assert.ok(await gone(iam.send(new GetPolicyCommand({ PolicyArn: c.arn }))), id);
    if (c.kind === 'oidc-provider') assert.ok(await gone(iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: c.arn }))), id);
    if (c.kind === 'iam-inline-policy') assert.ok(await gone(iam.send(new GetRolePolicyCommand({ RoleName: c.name, PolicyName: c.policy }))), id);
    if (c.kind === 'file') assert.not.ok(fs.existsSync(c.path), id);
    if (c.kind === 'vault-auth') assert.not.ok(`${c.mount}/` in (await vapi('GET', 'sys/auth'))!.data, id);
    if (c.kind === 'vault-kv') assert.not.ok(`${c.mount}/` in (await vapi('GET', 'sys/mounts'))!.data, id);
    if (c.kind === 'vault-policy') assert.is(await vapi('GET', `sys/policies/acl/${c.name}`), undefined, id);
  }
  const again = await run(teardownSteps, t.config, { yes: true });
  assert.is(again.error, undefined, again.output);
  for (const s of again.results) assert.ok(['unchanged', 'skipped'].includes(s.status), `${s.id} ${s.status}`);
});

test.run();
