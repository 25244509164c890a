// Drift exit codes (README "Exit codes"): a dry run exits 0 when live state
// matches and 10 when it would change something, for `make plan`'s script, a
// single step's dry run and --output json alike; `make plan` shows the code as
// make's "Error 10". Against the real lab.
// run.ts lane: names (about 8 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadSteps } from '../../lib/steps.js';
import { driftOf } from '../../lib/run.js';
import { ExitCode } from '../../lib/errors.js';
import { teardownSteps } from '../helpers/teardown.js';
import { lab, run } from '../helpers/lab.js';
import { scriptEnv, setup, vapi, type TestSetup } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let t: TestSetup;

function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { cwd: root, env: scriptEnv(t, lab().vaultAddr) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
}
const script = (file: string, ...args: string[]) => sh(process.execPath, scriptArgs(path.join('runbook', file), ...args));

test.before(async () => {
  t = await setup('t32');
  const r = await run(await loadSteps({ to: 12 }), t.config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
});

test('driftOf: nothing planned is no drift; planned steps are named with their change count', () => {
  assert.is(driftOf([{ id: '01', title: 'a', status: 'unchanged', actions: [], ms: 0 }]), undefined);
  assert.is(
    driftOf([
      { id: '02', title: 'b', status: 'planned', actions: [{ what: 'x', outcome: 'would update', ms: 0 }, { what: 'y', outcome: 'unchanged', ms: 0 }], ms: 0 },
      { id: '08', title: 'c', status: 'planned', actions: [{ what: 'z', outcome: 'would create', ms: 0 }], ms: 0 },
    ]),
    'drift: 2 changes would be made, in steps 02, 08',
  );
  assert.is(ExitCode.drift, 10);
  assert.not.ok(([0, 2, 3, 4, 5, 6, 7, 70] as number[]).includes(ExitCode.drift), 'a code of its own');
});

test('in sync: the plan, a step\'s dry run and make plan all exit 0', async () => {
  const plan = await script('all.ts', '--dry-run');
  assert.is(plan.code, 0, plan.stdout + plan.stderr);
  assert.not.match(plan.stdout, 'drift:');
  assert.is((await script('08-aws-auth-config.ts', '--dry-run')).code, 0);
  const json = await script('all.ts', '--dry-run', '--output', 'json');
  assert.is(json.code, 0, json.stderr);
  assert.equal([JSON.parse(json.stdout).exitCode, JSON.parse(json.stdout).drift], [0, false]);
  const make = await sh('make', ['-s', 'plan']);
  assert.is(make.code, 0, make.stdout + make.stderr);
});

test('drift: exit 10 with what would change, the same in JSON; make plan shows Error 10; converging brings back 0', async () => {
  await vapi('POST', `auth/${t.names.auth}/config/client`, { iam_server_id_header_value: 'drifted.example.com' });
  const plan = await script('all.ts', '--dry-run');
  assert.is(plan.code, 10, plan.stdout + plan.stderr);
  assert.match(plan.stdout, 'drift: 1 change would be made, in step 08 (exit 10)');
  assert.match(plan.stdout, `iam_server_id_header_value: "drifted.example.com" -> "${t.config.iamServerIdHeader}"`);
  assert.is((await script('08-aws-auth-config.ts', '--dry-run')).code, 10);
  assert.is((await script('07-vault-policy.ts', '--dry-run')).code, 0, 'a step without drift still exits 0');
  const json = await script('all.ts', '--dry-run', '--output', 'json');
  assert.is(json.code, 10, json.stderr);
  const doc = JSON.parse(json.stdout);
  assert.equal([doc.ok, doc.exitCode, doc.drift], [true, 10, true]);
  assert.equal(doc.steps.filter((s: { status: string }) => s.status === 'planned').map((s: { id: string }) => s.id), ['08']);
  const make = await sh('make', ['-s', 'plan']);
  assert.is(make.code, 2, 'make masks the code');
  assert.match(make.stderr, /\] Error 10/);
  // The drift was only read, never written.
  assert.is((await vapi('GET', `auth/${t.names.auth}/config/client`))!.data.iam_server_id_header_value, 'drifted.example.com');

  const apply = await script('08-aws-auth-config.ts', '--yes');
  assert.is(apply.code, 0, apply.stdout + apply.stderr);
  assert.is((await script('all.ts', '--dry-run')).code, 0);
});

test.run();
