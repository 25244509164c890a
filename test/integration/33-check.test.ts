// Grading hand-typed work (issue 16): a participant does step 03 by hand — with
// the aws CLI when it is installed, else the same calls through the SDK — with a
// typo (a wrong policy action). `check` on step 03 (what `make check-03` runs)
// prints the difference and the command that fixes it, changes nothing and exits
// 10; after the right command it prints "matches" and exits 0. The whole-lab
// check grades every step with a one-line score.
// run.ts lane: names (about 6 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  ListPolicyVersionsCommand,
} from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { teardownSteps } from '../helpers/teardown.js';
import { policyArn, serialize, vaultAuthPolicy } from '../../lib/iam-documents.js';
import { State } from '../../lib/state.js';
import { lab, labEnvVars, run, tmpDir } from '../helpers/lab.js';
import { iamClient, scriptEnv, setup, type TestSetup } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const hasAwsCli = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;

let t: TestSetup;
let arn = '';
let roleArn = '';

test.before(async () => {
  t = await setup('t33');
  const r = await run(await loadSteps({ to: 2 }), t.config);
  assert.is(r.error, undefined, r.output);
  roleArn = new State(t.config.stateFile, t.config, false).get('roleArn') ?? '';
  arn = policyArn(t.config.partition, lab().accountId, t.names.iamPolicy);
});

test.after(async () => {
  // The policy was made by hand, so the runbook's teardown does not own it: remove it here.
  const iam = iamClient();
  await iam.send(new DetachRolePolicyCommand({ RoleName: t.names.role, PolicyArn: arn })).catch(() => undefined);
  const versions = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn })).catch(() => undefined);
  for (const v of versions?.Versions ?? []) if (!v.IsDefaultVersion) await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v.VersionId })).catch(() => undefined);
  await iam.send(new DeletePolicyCommand({ PolicyArn: arn })).catch(() => undefined);
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
});

/** What the participant types, after `eval "$(lab/bin/env)"`. */
async function participant(kind: 'create-with-typo' | 'attach' | 'correct-version'): Promise<void> {
  const good = vaultAuthPolicy(roleArn);
  const typo = JSON.parse(serialize(good)) as { Statement: { Action: string[] | string }[] };
  typo.Statement[0]!.Action = ['ec2:DescribeInstances', 'iam:GetInstanceProfile', 'iam:GetUser', 'iam:GetRoles'];
  const doc = kind === 'create-with-typo' ? JSON.stringify(typo) : serialize(good);
  if (hasAwsCli) {
    const dir = tmpDir('vir-t33-');
    fs.writeFileSync(path.join(dir, 'policy.json'), doc);
    const args =
      kind === 'create-with-typo'
        ? ['iam', 'create-policy', '--policy-name', t.names.iamPolicy, '--policy-document', 'file://policy.json']
        : kind === 'attach'
          ? ['iam', 'attach-role-policy', '--role-name', t.names.role, '--policy-arn', arn]
          : ['iam', 'create-policy-version', '--policy-arn', arn, '--policy-document', 'file://policy.json', '--set-as-default'];
    const r = spawnSync('aws', args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME, ...labEnvVars(), AWS_DEFAULT_REGION: lab().region } });
    assert.is(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return;
  }
  const iam = iamClient();
  if (kind === 'create-with-typo') await iam.send(new CreatePolicyCommand({ PolicyName: t.names.iamPolicy, PolicyDocument: doc }));
  else if (kind === 'attach') await iam.send(new AttachRolePolicyCommand({ RoleName: t.names.role, PolicyArn: arn }));
  else await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc, SetAsDefault: true }));
}

function check(script: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, scriptArgs(script, '--check'), { cwd: root, env: scriptEnv(t, lab().vaultAddr), encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

const defaultVersion = async () => (await iamClient().send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId;

test(`check-03 after a manual step 03 with a typo (iam:GetRoles): the difference and the fix, exit 10, nothing changed${hasAwsCli ? '' : ' (aws CLI missing: the SDK types it)'}`, async () => {
  assert.ok(roleArn, 'step 02 recorded the role ARN');
  await participant('create-with-typo');
  await participant('attach');
  const stateBefore = fs.readFileSync(t.config.stateFile, 'utf8');
  const c = check('runbook/03-iam-policy.ts');
  assert.is(c.code, 10, c.out);
  assert.match(c.out, 'iam:GetRoles', 'the difference names the typo');
  assert.match(c.out, /create-policy-version[\s\S]*--set-as-default/, 'and the command that fixes it');
  assert.match(c.out, /check 03 \(.*\): differs — would update document of IAM policy/);
  assert.not.match(c.out, ': matches');
  assert.is(await defaultVersion(), 'v1', 'the check changed nothing in IAM');
  assert.is(fs.readFileSync(t.config.stateFile, 'utf8'), stateBefore, 'nor the state file');
  assert.not.match(c.out, lab().secretAccessKey);
});

test('check-03 after the correct command: "matches", exit 0', async () => {
  await participant('correct-version');
  const c = check('runbook/03-iam-policy.ts');
  assert.is(c.code, 0, c.out);
  assert.match(c.out, /check 03 \(.*\): matches/);
});

test('the whole-lab check: every step graded, a one-line score, exit 10 while steps 05-09 are not done; nothing written', async () => {
  const stateBefore = fs.readFileSync(t.config.stateFile, 'utf8');
  const c = check('runbook/all.ts');
  assert.is(c.code, 10, c.out);
  for (const id of ['01', '02', '03']) assert.match(c.out, new RegExp(`check ${id} \\(.*\\): matches`), id);
  assert.match(c.out, /check 05 \(.*\): differs/);
  const score = c.out.split('\n').filter((l) => /^score: /.test(l));
  assert.is(score.length, 1, c.out);
  assert.match(score[0]!, /^score: \d+\/\d+ steps match; .*05.* differ/);
  assert.is(fs.readFileSync(t.config.stateFile, 'utf8'), stateBefore, 'the check wrote nothing');
});

test.run();
