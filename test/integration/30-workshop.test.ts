// Workshop scenarios against the real lab (docs/WORKSHOP.md): after a full flow,
// each scenario's break makes verify fail at the link it names; troubleshoot's
// diagnose() names the scenario's finding (or, for one marked unknown, says it
// cannot explain the failure); then what the YAML's `repair` says repairs it —
// `make troubleshoot ARGS=--yes` (step 13 with --yes), or the answer's commands
// (typed as a participant would: aws and vault CLIs) where troubleshoot cannot
// repair alone — verify passes again and a plan finds nothing left to change.
// The command line (lab/bin/break) is exercised end to end on one scenario.
// run.ts lane: alone (about 12 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadSteps } from '../../lib/steps.js';
import { formatError, VerificationError } from '../../lib/errors.js';
import { step as s09 } from '../../runbook/09-vault-role.js';
import { step as s12 } from '../../runbook/12-verify.js';
import { diagnose, step as s13 } from '../../runbook/13-troubleshoot.js';
import { makeCtx } from '../../lib/run.js';
import { State } from '../../lib/state.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig, setMotoEnforcement, setVaultEnforcement } from '../../lab/lib/lab.js';
import { BUILTIN_SCENARIOS_DIR, breakLab, loadScenarios, resolveScenario, runAnswer, scenarioVars, type Scenario } from '../../lab/lib/scenarios.js';
import { lab, run } from '../helpers/lab.js';
import { ensureSharedProvider, ensureVaultServerRole, nameVars, setup, type TestSetup } from './10-13-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const hasAwsCli = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;

let t: TestSetup;
const scenarios = [...loadScenarios([BUILTIN_SCENARIOS_DIR]).values()];

test.before(async () => {
  t = await setup('t30');
  const r = await run(await loadSteps({ to: 12 }), t.config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  await setMotoEnforcement(false, lab());
  setVaultEnforcement(false, lab().labDir);
  // Shared by every lab cluster and test file: leave them as they were.
  await ensureSharedProvider(t.config.clusterName);
  await ensureVaultServerRole();
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
});

const resolved = (s: Scenario) => resolveScenario(s, scenarioVars(t.config, lab()));

async function repairWithAnswer(s: Scenario): Promise<void> {
  const { output } = await runAnswer(resolved(s), lab(), t.config, { vaultBin: readLabConfig().vaultBin });
  assert.not.match(output, lab().vaultToken, 'the root token is never printed');
}

/** What `make troubleshoot` finds, read only (a dry run's context: nothing is applied). */
async function findings(): Promise<{ id: string; title: string }[]> {
  const ctx = makeCtx(t.config, new State(t.config.stateFile, t.config, false), 'dry-run', false);
  await ctx.reach();
  return (await diagnose(ctx)).found.map((d) => d.finding);
}

async function healthyAgain(s: Scenario): Promise<void> {
  const v = await run([s12], t.config);
  assert.is(v.error, undefined, `${s.name}: verify after the answer\n${v.output}`);
  const plan = await run(await loadSteps({ to: 12 }), t.config, { mode: 'dry-run' });
  assert.is(plan.error, undefined, plan.output);
  assert.equal(plan.results.filter((r) => r.status === 'planned').map((r) => r.id), [], `${s.name}: the answer leaves nothing for the runbook to change\n${plan.output}`);
}

for (const s of scenarios) {
  const needsAws = s.answer.commands.some((c) => /(^|\s|;)aws\s/.test(c));
  const define = needsAws && !hasAwsCli ? test.skip : test;
  define(`${s.name}: the break makes verify fail at link ${s.failsAtLink}; troubleshoot ${s.troubleshoot ? `names ${s.troubleshoot}` : 'says it cannot explain it'}; ${s.repair === 'troubleshoot' ? 'troubleshoot --yes' : "the answer's commands"} repair it`, async () => {
    const logs: string[] = [];
    const broken = await breakLab(s.name, { config: t.config, lab: lab(), log: (l) => logs.push(l) });
    assert.is(logs.length, broken.break.length, logs.join('\n'));
    try {
      if (s.name === 'getrole-deny') {
        // The guide's own symptom: writing the Vault role is refused by AWS.
        const w = await run([s09], t.config);
        assert.match(formatError(w.error).text, /unable to resolve ARN .* to internal ID/, w.output);
      }
      const v = await run([s12], t.config);
      assert.instance(v.error, VerificationError, v.output);
      assert.match(formatError(v.error).text, `link ${s.failsAtLink} (`, v.output);
      for (let n = 1; n < s.failsAtLink; n++) assert.match(v.output, new RegExp(`ok\\s+${n} `), `link ${n} still holds`);
      const found = await findings();
      const said = found.map((f) => `${f.id}: ${f.title}`).join('\n');
      if (s.troubleshoot) {
        assert.ok(found.some((f) => f.id === s.troubleshoot), `${s.name}: troubleshoot names ${s.troubleshoot}; it said:\n${said}`);
      } else {
        assert.equal(found.map((f) => f.id), ['unknown'], `${s.name}: troubleshoot must not claim a known cause; it said:\n${said}`);
        assert.match(found[0]!.title, `verify fails at link ${s.failsAtLink} `);
        assert.match(found[0]!.title, 'troubleshoot does not know');
      }
      if (s.repair === 'troubleshoot') {
        const fixed = await run([s13], t.config, { yes: true });
        assert.is(fixed.error, undefined, `${s.name}: make troubleshoot ARGS=--yes\n${fixed.output}`);
      } else {
        await repairWithAnswer(s);
      }
    } finally {
      await setMotoEnforcement(false, lab());
      setVaultEnforcement(false, lab().labDir);
    }
    await healthyAgain(s);
  });
}

test('lab/bin/break end to end: break, participants\' text, --apply-answer; exit 0 each', async () => {
  const env = { ...process.env, ...nameVars(t), LAB_DIR: lab().labDir, NO_COLOR: '1', PATH: `${path.dirname(readLabConfig().vaultBin ?? 'vault')}:${process.env.PATH}` };
  const cli = (args: string[]) => spawnSync(path.join(root, 'lab', 'bin', 'break'), args, { cwd: root, env, encoding: 'utf8' });
  const b = cli(['vault-role-other-principal']);
  assert.is(b.status, 0, b.stderr);
  assert.match(b.stdout, `break: vault POST auth/${t.names.auth}/role/${t.names.role}`);
  assert.match(b.stdout, 'scenario vault-role-other-principal: The Vault role is bound to another IAM principal');
  assert.match(b.stdout, `does not belong to the role "${t.names.role}"`); // the symptom, with this lab's names
  assert.not.match(b.stdout + b.stderr, lab().vaultToken);
  const list = cli([]);
  assert.match(list.stdout, /vault-role-other-principal .*<- last broken/);
  const v = await run([s12], t.config);
  assert.match(formatError(v.error).text, 'link 4 (');
  const a = cli(['--apply-answer', 'vault-role-other-principal']);
  assert.is(a.status, 0, a.stdout + a.stderr);
  assert.match(a.stdout, 'answer to vault-role-other-principal applied');
  assert.not.match(a.stdout + a.stderr, lab().vaultToken);
  assert.not.match(cli([]).stdout, /last broken/);
  await healthyAgain(scenarios.find((s) => s.name === 'vault-role-other-principal')!);
});

test('a break on a lab without the full flow: exit 1, one sentence naming the action and what to run first', () => {
  const env = { ...process.env, ...nameVars(t), VAULT_AUTH_ROLE_NAME: `never-created-${t.id}`, LAB_DIR: lab().labDir, NO_COLOR: '1' };
  const r = spawnSync(path.join(root, 'lab', 'bin', 'break'), ['iam-role-recreated'], { cwd: root, env, encoding: 'utf8' });
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /^break: scenario iam-role-recreated: break\[2\] \(aws iam DeleteRole\) failed: AWS said NoSuchEntity.* run `make lab` first\)\n$/);
  assert.not.match(r.stdout + r.stderr, lab().vaultToken);
  assert.not.match(r.stdout + r.stderr, lab().secretAccessKey);
});

test.run();
