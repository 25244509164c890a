// Reliability in the lab, faults: Vault stopping in the middle of the flow, AWS
// throttling and 5xx answers (within and beyond the retry budget), and a run
// killed in the middle of a step. The shared lab servers are never stopped: the
// faults come from test/helpers/fault-proxy.ts, a loopback proxy this file owns
// that sits between the runbook and moto or Vault.
// run.ts lane: names (about 15 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  DeletePolicyCommand,
  DetachRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { teardownSteps } from '../helpers/teardown.js';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { lab, labConfig, labEnvVars, mutating, run } from '../helpers/lab.js';
import { FAULTS, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { RemoteError, formatError } from '../../lib/errors.js';
import { State, resourceId } from '../../lib/state.js';
import type { Config } from '../../lib/config.js';
import { iamClient, nameVars, setup, vapi, type TestSetup } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let t: TestSetup;
/** One proxy in front of moto and one in front of Vault for the whole file (the AWS address is part of the state key). */
let moto: FaultProxy;
let vault: FaultProxy;
/** Configurations: through the moto proxy (its own state context), and direct AWS with Vault through its proxy. */
let viaMoto: Config;
let viaVault: Config;

function names(): Record<string, string> {
  return nameVars(t);
}

/** The environment of a runbook script for this file's names. */
function scriptEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...labEnvVars(), ...names(), ...extra };
}

/** Spawn a runbook script; `kill` receives a function that SIGKILLs it. */
function script(file: string, env: NodeJS.ProcessEnv, kill?: (k: () => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, scriptArgs(file, '--yes'), { cwd: root, env });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    kill?.(() => p.kill('SIGKILL'));
    p.on('close', (code, signal) => resolve({ code, signal, out }));
  });
}

const policyArn = () => `arn:aws:iam::${lab().accountId}:policy/${t.names.iamPolicy}`;

async function iamCounts() {
  const iam = iamClient();
  const roles = ((await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).filter((r) => r.RoleName === t.names.role);
  const policies = ((await iam.send(new ListPoliciesCommand({ Scope: 'Local', MaxItems: 1000 }))).Policies ?? []).filter((p) => p.PolicyName === t.names.iamPolicy);
  const versions = policies.length ? ((await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policyArn() }))).Versions ?? []).length : 0;
  const attached = roles.length ? ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: t.names.role }))).AttachedPolicies ?? []).filter((p) => p.PolicyArn === policyArn()).length : 0;
  return { roles: roles.length, policies: policies.length, versions, attached };
}

const ALL = { roles: 1, policies: 1, versions: 1, attached: 1 };

/** Delete the IAM policy through the runbook's own teardown (it was made in the viaMoto context). */
async function dropPolicy(): Promise<void> {
  const r = await run(teardownSteps.filter((s) => s.id === 'T03'), viaMoto, { yes: true });
  assert.is(r.error, undefined, r.output);
  assert.is((await iamCounts()).policies, 0, 'the policy is gone before the test');
}

test.before(async () => {
  t = await setup('t20');
  moto = await startFaultProxy(lab().awsEndpoint);
  vault = await startFaultProxy(lab().vaultAddr);
  viaMoto = labConfig({ ...names(), AWS_ENDPOINT_URL: moto.url });
  viaVault = labConfig({ ...names(), VAULT_ADDR: vault.url });
});

test.after(async () => {
  // Best effort: the last test asserts the teardown; this only makes sure nothing is left behind.
  for (const c of [viaMoto, viaVault]) await run(teardownSteps, c, { yes: true });
  await moto.close();
  await vault.close();
  const iam = iamClient();
  if ((await iamCounts()).policies) {
    await iam.send(new DetachRolePolicyCommand({ RoleName: t.names.role, PolicyArn: policyArn() })).catch(() => undefined);
    await iam.send(new DeletePolicyCommand({ PolicyArn: policyArn() })).catch(() => undefined);
  }
});

test('AWS throttling and 503s within the retry budget (AWS_MAX_ATTEMPTS=5): retried, the steps succeed, nothing made twice', async () => {
  // Four failed attempts of the first call and of the role's creation: the fifth attempt passes.
  moto.inject(2, FAULTS.unavailable, /Action=GetCallerIdentity/);
  moto.inject(2, FAULTS.throttle, /Action=GetCallerIdentity/);
  moto.inject(2, FAULTS.throttle, /Action=CreateRole&/);
  moto.inject(2, FAULTS.unavailable, /Action=CreateRole&/);
  const r = await run([s01, s02, s03], { ...viaMoto, awsMaxAttempts: 5 });
  assert.is(r.error, undefined, r.output);
  assert.is(moto.injected(), 8, 'every injected fault was met');
  assert.is(moto.seen.filter((s) => /Action=CreateRole&/.test(s.body) && !s.injected).length, 1, 'CreateRole reached moto once');
  assert.equal(await iamCounts(), ALL);
});

test('AWS throttling beyond the retry budget: one sentence naming the call, exit 4, nothing created; a re-run converges', async () => {
  await dropPolicy();
  const before = moto.injected();
  moto.inject(3, FAULTS.throttle, /Action=CreatePolicy&/);
  const r = await run([s01, s02, s03], { ...viaMoto, awsMaxAttempts: 3 });
  assert.instance(r.error, RemoteError, r.output);
  const f = formatError(r.error);
  assert.is(f.exitCode, 4);
  assert.match(f.text, /^error: AWS iam:CreatePolicy failed \(ThrottlingException\): Rate exceeded/);
  assert.match(f.text, 'after 3 attempts');
  assert.is(f.text.split('\n').length, 1, f.text);
  assert.is(moto.injected() - before, 3);
  assert.is((await iamCounts()).policies, 0, 'no policy was created');

  const again = await run([s01, s02, s03], viaMoto);
  assert.is(again.error, undefined, again.output);
  assert.equal(await iamCounts(), ALL);
});

test('a step killed in the middle (moto made the policy, the answer never arrived): the re-run converges, no duplicates, teardown still knows it', async () => {
  await dropPolicy();
  const env = scriptEnv({ AWS_ENDPOINT_URL: moto.url });
  let killer: () => void = () => undefined;
  const unhook = moto.after(/Action=CreatePolicy&/, () => killer(), { beforeReply: true });
  const killed = await script('runbook/03-iam-policy.ts', env, (k) => (killer = k));
  unhook();
  assert.is(killed.signal, 'SIGKILL', killed.out);
  assert.is((await iamCounts()).policies, 1, 'moto made the policy before the kill');

  const again = await script('runbook/03-iam-policy.ts', env);
  assert.is(again.code, 0, again.out);
  assert.equal(await iamCounts(), ALL);
  const created = new State(viaMoto.stateFile, viaMoto, false).created().map(resourceId);
  assert.equal(created.length, new Set(created).size, 'no duplicate records');
  assert.ok(created.includes(`iam-policy:${policyArn()}`), `the policy made by the killed run is recorded for teardown: ${created.join(', ')}`);
});

test('Vault stops in the middle of the flow: one sentence naming Vault and VAULT_ADDR, exit 4; after it is back a re-run converges', async () => {
  const dropped = vault.cutOn((r) => r.method === 'POST' && r.url === `/v1/sys/mounts/${t.names.kv}`);
  const first = await run(await loadSteps({ to: 12 }), viaVault);
  await dropped;
  assert.instance(first.error, RemoteError, first.output);
  const f = formatError(first.error);
  assert.is(f.exitCode, 4);
  assert.match(f.text, `error: Vault at VAULT_ADDR=${vault.url} does not answer (`);
  assert.match(f.text, 'start it (lab: make lab-up) or set VAULT_ADDR to your Vault');
  assert.is(f.text.split('\n').length, 1, f.text);
  assert.equal(first.results.map((r) => r.id).at(-1), '06');
  assert.is(first.results.find((r) => r.id === '05')!.status, 'changed');

  await vault.restore();
  const again = await run(await loadSteps({ to: 12 }), viaVault);
  assert.is(again.error, undefined, again.output);
  assert.equal(again.results.map((r) => r.status).slice(0, 5), ['unchanged', 'unchanged', 'unchanged', 'skipped', 'unchanged'], again.output);
  // (verify's sts:AssumeRoleWithWebIdentity is recorded as a non-read call; it makes nothing)
  assert.equal(mutating(again).filter((c) => c.service !== 'vault' && c.action !== 'AssumeRoleWithWebIdentity'), [], 'no AWS resource made twice');
  assert.ok(mutating(again).some((c) => c.action === `POST sys/mounts/${t.names.kv}`), 'the KV mount is made on the re-run');

  const third = await run(await loadSteps({ to: 12 }), viaVault);
  assert.is(third.error, undefined, third.output);
  assert.equal(third.results.filter((r) => r.status === 'changed').map((r) => r.id), [], 'converged');
  // Only the verify step writes (its test secret) on a converged run.
  assert.equal(mutating(third).filter((c) => !c.action.includes('irsa-verify') && c.action !== 'AssumeRoleWithWebIdentity'), []);
});

test('Vault goes away right after a write it did: the re-run finds the write and does not repeat it', async () => {
  await vapi('DELETE', `sys/policies/acl/${t.names.policy}`);
  let cutDone: Promise<void> | undefined;
  const unhook = vault.after((r) => r.method === 'POST' && r.url === `/v1/sys/policies/acl/${t.names.policy}`, () => {
    cutDone = vault.cut();
  });
  const first = await run(await loadSteps({ from: 5, to: 9 }), viaVault);
  unhook();
  await cutDone;
  assert.instance(first.error, RemoteError, first.output);
  assert.match(formatError(first.error).text, `Vault at VAULT_ADDR=${vault.url} does not answer`);
  assert.ok(await vapi('GET', `sys/policies/acl/${t.names.policy}`), 'Vault did write the policy');
  await vault.restore();
  const again = await run(await loadSteps({ from: 5, to: 9 }), viaVault);
  assert.is(again.error, undefined, again.output);
  assert.equal(again.results.map((r) => r.status), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged'], again.output);
  assert.equal(mutating(again), []);
});

test('the whole flow killed while Vault is being configured: a re-run of make all converges with no duplicates', async () => {
  await vapi('DELETE', `sys/policies/acl/${t.names.policy}`);
  const env = scriptEnv({ VAULT_ADDR: vault.url });
  let killer: () => void = () => undefined;
  const unhook = vault.after((r) => r.method === 'POST' && r.url === `/v1/sys/policies/acl/${t.names.policy}`, () => killer(), { beforeReply: true });
  const killed = await script('runbook/all.ts', env, (k) => (killer = k));
  unhook();
  assert.is(killed.signal, 'SIGKILL', killed.out);
  const again = await script('runbook/all.ts', env);
  assert.is(again.code, 0, again.out);
  assert.match(again.out, /07\s+Vault policy for Gloo\s+unchanged/);
  assert.match(again.out, 'all 5 links hold');
  const third = await script('runbook/all.ts', env);
  assert.is(third.code, 0, third.out);
  assert.not.match(third.out, /\bchanged\b/, third.out);
  assert.equal(await iamCounts(), ALL);
  const created = new State(viaVault.stateFile, viaVault, false).created().map(resourceId);
  assert.equal(created.length, new Set(created).size, 'no duplicate records');
});

test('teardown, for every state context this file used, removes everything the runbook created', async () => {
  for (const c of [viaMoto, viaVault]) {
    const r = await run(teardownSteps, c, { yes: true });
    assert.is(r.error, undefined, r.output);
  }
  assert.equal(await iamCounts(), { roles: 0, policies: 0, versions: 0, attached: 0 });
});

test.run();
