// Drift, all of it: for each resource the runbook makes, an out-of-band change
// or deletion (made here with the operator's own clients) is found by the step
// that owns it and converged by `make all` (steps 01-12 in one run), after
// which verify passes. And where verify fails for a reason no known problem
// explains, troubleshoot says so plainly.
// run.ts lane: alone (about 7 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import {
  CreatePolicyVersionCommand,
  DeleteOpenIDConnectProviderCommand,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListPolicyVersionsCommand,
  DeletePolicyVersionCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { teardownSteps } from '../helpers/teardown.js';
import { step as s13 } from '../../runbook/13-troubleshoot.js';
import { run, type Run } from '../helpers/lab.js';
import { State } from '../../lib/state.js';
import { VerificationError } from '../../lib/errors.js';
import { ensureVaultServerRole, iamClient, setup, vapi, type TestSetup } from './10-13-setup.js';
import type { Step } from '../../lib/step.js';

let t: TestSetup;
let all: Step[];
const state = () => new State(t.config.stateFile, t.config, false).values();

/** `make all`: steps 01-12; asserts verify passed and returns the run. */
async function makeAll(): Promise<Run> {
  const r = await run(all, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
  assert.match(r.output, 'all 5 links hold');
  return r;
}

/** The step's outcome in a run. */
const status = (r: Run, id: string): string => r.results.find((x) => x.id === id)!.status;

test.before(async () => {
  t = await setup('tdr');
  all = await loadSteps({ to: 12 });
  await makeAll();
});

test.after(async () => {
  await run(teardownSteps, t.config, { yes: true });
  await ensureVaultServerRole();
});

const iam = () => iamClient();

test('OIDC provider deleted: step 01 re-creates it', async () => {
  await iam().send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: state().providerArn! }));
  const r = await makeAll();
  assert.is(status(r, '01'), 'changed');
  assert.match(r.output, /created\s+IAM OIDC provider/);
});

test('trust policy changed: step 02 shows the diff and converges it', async () => {
  const wrong = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: state().providerArn }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${state().oidcProvider}:sub`]: 'system:serviceaccount:other:other' } } }] };
  await iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: t.config.roleName, PolicyDocument: JSON.stringify(wrong) }));
  const r = await makeAll();
  assert.is(status(r, '02'), 'changed');
  assert.match(r.output, /drift on trust policy of IAM role/);
});

test('Gloo role deleted: 02 re-creates it, 03 re-attaches the policy, 09 re-binds Vault to its new unique ID', async () => {
  const name = t.config.roleName;
  for (const p of (await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? []) {
    await iam().send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.PolicyArn }));
  }
  await iam().send(new DeleteRoleCommand({ RoleName: name }));
  const r = await makeAll();
  for (const id of ['02', '03', '09']) assert.is(status(r, id), 'changed', id);
  assert.match(r.output, /bound_iam_principal_id: .* \(IAM role .* was re-created/);
});

test('IAM policy document changed: 03 makes a new default version', async () => {
  await iam().send(new CreatePolicyVersionCommand({ PolicyArn: state().policyArn!, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }] }), SetAsDefault: true }));
  const r = await makeAll();
  assert.is(status(r, '03'), 'changed');
  assert.match(r.output, /drift on document of IAM policy/);
});

test('IAM policy detached: 03 attaches it again', async () => {
  await iam().send(new DetachRolePolicyCommand({ RoleName: t.config.roleName, PolicyArn: state().policyArn! }));
  const r = await makeAll();
  assert.is(status(r, '03'), 'changed');
});

test('IAM policy deleted: 03 re-creates and attaches it', async () => {
  const arn = state().policyArn!;
  await iam().send(new DetachRolePolicyCommand({ RoleName: t.config.roleName, PolicyArn: arn }));
  for (const v of (await iam().send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions ?? []) {
    if (!v.IsDefaultVersion) await iam().send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.VersionId }));
  }
  await iam().send(new DeletePolicyCommand({ PolicyArn: arn }));
  const r = await makeAll();
  assert.is(status(r, '03'), 'changed');
  assert.match(r.output, /created\s+IAM policy/);
});

test("the Vault server role's inline policy changed, then deleted: 03 puts it back", async () => {
  const role = t.config.vaultServerRoleName;
  await iam().send(new PutRolePolicyCommand({ RoleName: role, PolicyName: t.config.vaultServerPolicyName, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:ListRoles', Resource: '*' }] }) }));
  let r = await makeAll();
  assert.is(status(r, '03'), 'changed');
  await iam().send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: t.config.vaultServerPolicyName }));
  r = await makeAll();
  assert.is(status(r, '03'), 'changed');
});

test('Vault server role deleted: 03 re-creates it with its inline policy', async () => {
  await iam().send(new DeleteRolePolicyCommand({ RoleName: t.config.vaultServerRoleName, PolicyName: t.config.vaultServerPolicyName }));
  await iam().send(new DeleteRoleCommand({ RoleName: t.config.vaultServerRoleName }));
  const r = await makeAll();
  assert.is(status(r, '03'), 'changed');
  assert.match(r.output, new RegExp(`created\\s+IAM role ${t.config.vaultServerRoleName}`));
});

test('auth method disabled: 05 enables it, 08 and 09 write config and role again', async () => {
  await vapi('DELETE', `sys/auth/${t.config.authMount}`);
  const r = await makeAll();
  for (const id of ['05', '08', '09']) assert.is(status(r, id), 'changed', id);
});

test('KV mount disabled: 06 enables it again', async () => {
  await vapi('DELETE', `sys/mounts/${t.config.kvMount}`);
  const r = await makeAll();
  assert.is(status(r, '06'), 'changed');
});

test('KV mount replaced by version 1: 06 upgrades it (with --yes)', async () => {
  await vapi('DELETE', `sys/mounts/${t.config.kvMount}`);
  await vapi('POST', `sys/mounts/${t.config.kvMount}`, { type: 'kv', options: { version: '1' } });
  const r = await makeAll();
  assert.is(status(r, '06'), 'changed');
  assert.match(r.output, /KV v1 engine at .* \(upgrade to v2\)/);
});

test('Vault policy changed: 07 shows the diff and writes it back; deleted: 07 writes it', async () => {
  await vapi('PUT', `sys/policies/acl/${t.config.vaultPolicyName}`, { policy: 'path "sys/mounts" { capabilities = ["read"] }' });
  let r = await makeAll();
  assert.is(status(r, '07'), 'changed');
  assert.match(r.output, /drift on Vault policy/);
  await vapi('DELETE', `sys/policies/acl/${t.config.vaultPolicyName}`);
  r = await makeAll();
  assert.is(status(r, '07'), 'changed');
});

test('client config changed, then deleted: 08 converges it', async () => {
  await vapi('POST', `auth/${t.config.authMount}/config/client`, { iam_server_id_header_value: 'someone-else' });
  let r = await makeAll();
  assert.is(status(r, '08'), 'changed');
  await vapi('DELETE', `auth/${t.config.authMount}/config/client`);
  r = await makeAll();
  assert.is(status(r, '08'), 'changed');
});

test('Vault role re-bound, then deleted: 09 converges it', async () => {
  const path = `auth/${t.config.authMount}/role/${t.config.roleName.toLowerCase()}`;
  await vapi('POST', path, { token_policies: 'default' });
  let r = await makeAll();
  assert.is(status(r, '09'), 'changed');
  await vapi('DELETE', path);
  r = await makeAll();
  assert.is(status(r, '09'), 'changed');
});

test('values file edited, then deleted: 10 writes it again', async () => {
  const file = state().valuesFile!;
  fs.writeFileSync(file, 'settings: {}\n');
  let r = await makeAll();
  assert.is(status(r, '10'), 'changed');
  fs.rmSync(file);
  r = await makeAll();
  assert.is(status(r, '10'), 'changed');
});

test('verify failing for a reason troubleshoot does not know: troubleshoot says so plainly (exit 6), make all converges', async () => {
  // A policy that lets Gloo log in but not write its secrets: no known problem covers it.
  await vapi('PUT', `sys/policies/acl/${t.config.vaultPolicyName}`, { policy: 'path "sys/mounts" { capabilities = ["read"] }' });
  const v = await run([all.find((s) => s.id === '12')!], t.config);
  assert.instance(v.error, VerificationError);
  const ts = await run([s13], t.config, { yes: false });
  assert.instance(ts.error, VerificationError, ts.output);
  assert.match(ts.output, /problem: verify fails at link 5 \(Gloo secret .*\) for a reason troubleshoot does not know/);
  assert.match((ts.error as Error).message, /does not know/);
  await makeAll();
});

test.run();
