// Step 11 over a release a person installed by hand (issue 13): the user's own
// values survive the upgrade; a hand change to a runbook-owned key is shown as a
// diff and converged; moving the chart version backwards is refused without --yes.
// Lab cluster (LAB_K8S=1) with the stand-in gloo chart.
// run.ts lane: k8s (about 7 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s10 } from '../../runbook/10-gloo-values.js';
import { step as s11 } from '../../runbook/11-install-gloo.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { helmValues } from '../../lib/helm.js';
import { ConfirmationError } from '../../lib/errors.js';
import { State } from '../../lib/state.js';
import { run } from '../helpers/lab.js';
import { k8sVars, setup, type TestSetup } from './10-13-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const k8s = readLabConfig().k8s;
const NS = 'gloo-t41';
let t: TestSetup;

async function helm(...args: string[]): Promise<string> {
  return (await $({ quiet: true, env: { ...process.env, KUBECONFIG: k8s!.kubeconfig } })`helm ${args}`).stdout;
}

if (!k8s) {
  console.log('skipped: the running lab has no Kubernetes API; start it with LAB_K8S=1 lab/bin/up');
  test.skip('step 11 over a hand-made release', () => undefined);
} else {
  test.before(async () => {
    t = await setup('t41', k8sVars(NS));
    const r = await run([s01, s02, s03], t.config);
    assert.is(r.error, undefined, r.output);
    await helm('uninstall', 'gloo', '-n', NS, '--wait').catch(() => undefined);
    await helm('install', 'gloo', path.join(root, 'lab', 'charts', 'gloo'), '-n', NS, '--create-namespace', '--set', 'gateway.enabled=false', '--set', 'gloo.deployment.replicas=1');
  });

  test.after(async () => {
    const r = await run(teardownSteps, t.config, { yes: true });
    assert.is(r.error, undefined, r.output);
    // Not recorded as created by the runbook (a person installed it): the test removes it.
    await helm('uninstall', 'gloo', '-n', NS, '--wait').catch(() => undefined);
  });

  test('the user value survives step 11; the runbook keys are added', async () => {
    const r = await run([s10, s11], t.config);
    assert.is(r.error, undefined, r.output);
    assert.equal(r.results.map((x) => x.status), ['changed', 'changed'], r.output);
    const v = await helmValues('gloo', NS, t.config) as { gateway?: { enabled?: boolean }; gloo?: { deployment?: { replicas?: number }; serviceAccount?: unknown } };
    assert.is(v.gateway?.enabled, false, 'user value gateway.enabled kept');
    assert.is(v.gloo?.deployment?.replicas, 1, 'user value gloo.deployment.replicas kept');
    const roleArn = new State(t.config.stateFile, t.config, false).values().roleArn!;
    assert.equal(v.gloo?.serviceAccount, { extraAnnotations: { 'eks.amazonaws.com/role-arn': roleArn } });
    const again = await run([s11], t.config);
    assert.is(again.error, undefined, again.output);
    assert.equal(again.results.map((x) => x.status), ['unchanged'], again.output);
  });

  test('a hand change to a runbook-owned key is shown as a diff and converged; the user value still survives', async () => {
    await helm('upgrade', 'gloo', path.join(root, 'lab', 'charts', 'gloo'), '-n', NS, '--reuse-values', '--set', 'gloo.serviceAccount.extraAnnotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/hand-made');
    const r = await run([s11], t.config);
    assert.is(r.error, undefined, r.output);
    assert.match(r.output, 'drift on Helm release gloo');
    assert.match(r.output, 'role/hand-made');
    const roleArn = new State(t.config.stateFile, t.config, false).values().roleArn!;
    const v = await helmValues('gloo', NS, t.config) as { gateway?: { enabled?: boolean }; gloo?: { serviceAccount?: { extraAnnotations?: Record<string, string> } } };
    assert.is(v.gloo?.serviceAccount?.extraAnnotations?.['eks.amazonaws.com/role-arn'], roleArn);
    assert.is(v.gateway?.enabled, false);
  });

  test('an EDGE_VERSION older than the installed chart is destructive: refused without --yes (exit 5)', async () => {
    const r = await run([s11], { ...t.config, edgeVersion: 'v1.15.3' }, { yes: false });
    assert.instance(r.error, ConfirmationError, r.output);
    assert.match(r.output, 'DESTRUCTIVE chart version 1.16.0-lab -> v1.15.3');
    const v = await helmValues('gloo', NS, t.config) as { gateway?: { enabled?: boolean } };
    assert.is(v.gateway?.enabled, false, 'nothing changed');
  });
}

test.run();
