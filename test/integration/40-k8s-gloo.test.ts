// Steps 10 and 11 against the lab's Kubernetes API (LAB_K8S=1) with the stand-in
// gloo chart (GLOO_HELM_CHART=lab/charts/gloo): a real helm install whose pods get
// their IRSA environment from the lab's webhook; a re-run makes no Helm write.
// Skips, saying why, only when the running lab has no Kubernetes part.
// run.ts lane: k8s (about 7 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s10 } from '../../runbook/10-gloo-values.js';
import { step as s11 } from '../../runbook/11-install-gloo.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { kubectl } from '../../lib/kube.js';
import { helmRelease } from '../../lib/helm.js';
import { run } from '../helpers/lab.js';
import { State } from '../../lib/state.js';
import { k8sVars, setup, type TestSetup } from './10-13-setup.js';

const k8s = readLabConfig().k8s;
let t: TestSetup;

if (!k8s) {
  console.log('skipped: the running lab has no Kubernetes API; start it with LAB_K8S=1 lab/bin/up');
  test.skip('step 11 on the lab cluster', () => undefined);
} else {
  test.before(async () => {
    t = await setup('t40', k8sVars('gloo-t40'));
    const r = await run([s01, s02, s03], t.config);
    assert.is(r.error, undefined, r.output);
  });

  test.after(async () => {
    const r = await run(teardownSteps, t.config, { yes: true });
    assert.is(r.error, undefined, r.output);
    assert.is(await helmRelease('gloo', 'gloo-t40', t.config), undefined, 'teardown uninstalled gloo');
  });

  test('step 11 installs gloo with the stand-in chart; the running pods carry the IRSA environment', async () => {
    const r = await run([s10, s11], t.config);
    assert.is(r.error, undefined, r.output);
    assert.equal(r.results.map((x) => x.status), ['changed', 'changed'], r.output);
    const roleArn = new State(t.config.stateFile, t.config, false).values().roleArn!;
    assert.match(r.output, 'AWS_ROLE_ARN');
    const pods = JSON.parse(await kubectl(['get', 'pods', '-n', 'gloo-t40', '-o', 'json'], { config: t.config })) as { items: { metadata: { name: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } }[] };
    assert.ok(pods.items.length >= 2, 'gloo and discovery pods');
    for (const p of pods.items) assert.ok(p.spec.containers[0]!.env?.some((e) => e.name === 'AWS_ROLE_ARN' && e.value === roleArn), `${p.metadata.name} has AWS_ROLE_ARN`);
  });

  test('a re-run makes no Helm write, and its verify reads no service account or pod again', async () => {
    const before = (await helmRelease('gloo', 'gloo-t40', t.config))!;
    // Every kubectl the run starts, through a logging kubectl first on PATH.
    const real = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
    assert.ok(real, 'kubectl on PATH');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kubectl-'));
    const log = path.join(dir, 'calls.log');
    fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    const pathWas = process.env.PATH;
    process.env.PATH = `${dir}${path.delimiter}${pathWas}`;
    let r;
    try {
      r = await run([s10, s11], t.config);
    } finally {
      process.env.PATH = pathWas;
    }
    assert.is(r.error, undefined, r.output);
    assert.equal(r.results.map((x) => x.status), ['unchanged', 'unchanged'], r.output);
    const after = (await helmRelease('gloo', 'gloo-t40', t.config))!;
    assert.is((after as { revision?: string }).revision, (before as { revision?: string }).revision, 'same Helm revision');
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    const count = (re: RegExp) => calls.filter((c) => re.test(c)).length;
    // check reads the service accounts and their pods once each (one kubectl for both); verify only waits for the rollout
    assert.is(count(/^get serviceaccount gloo discovery /), 1, calls.join('\n'));
    assert.is(count(/^get serviceaccount /), 1, calls.join('\n'));
    assert.is(count(/^get pods /), 1, calls.join('\n'));
    assert.is(count(/^rollout status /), 1, calls.join('\n'));
    assert.match(r.output, /2 running pod\(s\) have AWS_ROLE_ARN/);
  });
}

test.run();
