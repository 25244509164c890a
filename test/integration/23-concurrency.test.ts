// Reliability in the lab, concurrency: two runs of the real flow against the
// same cluster at once. One holds the lock; the other fails at once with exit 7
// and a sentence naming the run that holds it — and nothing is ever made twice.
// A lock left by a killed run is taken over.
// run.ts lane: names (about 15 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ListAttachedRolePoliciesCommand, ListPoliciesCommand, ListPolicyVersionsCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { lab, run } from '../helpers/lab.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { teardownSteps } from '../helpers/teardown.js';
import { State, resourceId } from '../../lib/state.js';
import { iamClient, scriptEnv, setup, vapi, type TestSetup } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let t: TestSetup;
let vault: FaultProxy;

function env(): NodeJS.ProcessEnv {
  return scriptEnv(t, vault.url, { VAULT_IRSA_LOCK_DIR: lockDir() });
}

interface Done {
  code: number;
  out: string;
  pid: number;
}

function start(file = 'all.ts'): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(process.execPath, scriptArgs(path.join('runbook', file), '--yes'), { cwd: root, env: env() });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const done = new Promise<Done>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, out, pid: child.pid! })));
  return { child, done };
}

// This file's own lock folder, so other runs on the machine cannot disturb it.
const lockDir = (): string => path.join(path.dirname(t.config.stateFile), 'locks');
const lockFiles = (): string[] => (fs.existsSync(lockDir()) ? fs.readdirSync(lockDir()).filter((f) => f.startsWith('lock-')) : []);

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function noDuplicates(): Promise<void> {
  const iam = iamClient();
  const roles = ((await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).filter((r) => r.RoleName === t.names.role);
  const policies = ((await iam.send(new ListPoliciesCommand({ Scope: 'Local', MaxItems: 1000 }))).Policies ?? []).filter((p) => p.PolicyName === t.names.iamPolicy);
  assert.is(roles.length, 1, 'one role');
  assert.is(policies.length, 1, 'one policy');
  const versions = (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policies[0]!.Arn! }))).Versions ?? [];
  assert.is(versions.length, 1, 'one policy version');
  const attached = ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: t.names.role }))).AttachedPolicies ?? []).filter((p) => p.PolicyName === t.names.iamPolicy);
  assert.is(attached.length, 1, 'attached once');
  const auth = Object.keys((await vapi('GET', 'sys/auth'))!.data as object).filter((k) => k.startsWith(t.names.auth));
  const mounts = Object.keys((await vapi('GET', 'sys/mounts'))!.data as object).filter((k) => k.startsWith(t.names.kv));
  assert.equal([auth, mounts], [[`${t.names.auth}/`], [`${t.names.kv}/`]]);
  const created = new State(t.config.stateFile, t.config, false).created().map(resourceId);
  assert.equal(created.length, new Set(created).size, `no duplicate records: ${created.join(', ')}`);
  assert.ok(created.includes(`iam-role:${t.names.role}`), created.join(', '));
}

test.before(async () => {
  t = await setup('t23');
  vault = await startFaultProxy(lab().vaultAddr);
});

test.after(async () => {
  await run(teardownSteps, t.config, { yes: true });
  await vault.close();
});

test('a second run while the first holds the lock: exit 7, one sentence naming the first run, nothing made twice', async () => {
  // Hold the first run inside the flow (Vault answers its auth-method request slowly) so the overlap is certain.
  vault.delay((r) => r.method === 'POST' && r.url === `/v1/sys/auth/${t.names.auth}`, 2500);
  const a = start();
  await waitFor(() => lockFiles().length > 0, 'the first run to take the lock');
  const b = await start().done;
  assert.is(b.code, 7, b.out);
  assert.match(b.out, new RegExp(`error: another run \\(pid ${a.child.pid}\\) is working on cluster ${t.names.cluster}: wait for it to finish, or remove \\S+lock-[0-9a-f]{12} if that process is not the runbook`));
  assert.is(b.out.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1, b.out);
  assert.not.match(b.out, /created|updated/, 'the second run changed nothing');
  const first = await a.done;
  assert.is(first.code, 0, first.out);
  assert.match(first.out, 'all 5 links hold');
  assert.equal(lockFiles(), [], 'the lock is released');
  await noDuplicates();
});

test('two runs started at the same instant, three times: each pair ends with success and exit 7 (or one after the other), never duplicates', async () => {
  await run(teardownSteps, t.config, { yes: true });
  for (let i = 0; i < 3; i++) {
    const [x, y] = await Promise.all([start().done, start().done]);
    const codes = [x.code, y.code].sort();
    assert.ok(JSON.stringify(codes) === '[0,7]' || JSON.stringify(codes) === '[0,0]', `exit codes ${codes}\n${x.out}\n${y.out}`);
    for (const r of [x, y]) if (r.code === 7) assert.match(r.out, /error: another run \(pid \d+\) is working on cluster/);
    await noDuplicates();
  }
});

test('a lock left by a run that was killed is taken over', async () => {
  const a = start();
  await waitFor(() => lockFiles().length > 0, 'the run to take the lock');
  a.child.kill('SIGKILL');
  await a.done;
  assert.is(lockFiles().length, 1, 'the killed run left its lock');
  const b = await start().done;
  assert.is(b.code, 0, b.out);
  assert.equal(lockFiles(), []);
  await noDuplicates();
});

test.run();
