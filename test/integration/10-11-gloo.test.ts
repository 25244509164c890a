// Steps 10 and 11 in the lab after the real steps 01-03: the values file is
// written (path printed), equals GUIDE §10 when parsed, a re-run writes nothing;
// the helm template check and the install say they are skipped, and why.
// run.ts lane: names (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s10 } from '../../runbook/10-gloo-values.js';
import { step as s11 } from '../../runbook/11-install-gloo.js';
import { teardownSteps } from '../helpers/teardown.js';
import { run } from '../helpers/lab.js';
import { State } from '../../lib/state.js';
import { glooValues, glooValuesInput, parseValues } from '../../lib/gloo-values.js';
import { setup, type TestSetup } from './10-13-setup.js';

let t: TestSetup;

test.before(async () => {
  t = await setup('t10');
  const r = await run([s01, s02, s03], t.config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
});

test('step 10 writes the values file, prints its path, and it parses to the structure of docs/GUIDE.md §10', async () => {
  const r = await run([s10, s11], t.config);
  assert.is(r.error, undefined, r.output);
  const s = new State(t.config.stateFile, t.config, false).values();
  assert.match(r.output, `wrote ${s.valuesFile}`);
  assert.equal(parseValues(fs.readFileSync(s.valuesFile!, 'utf8')), glooValues(glooValuesInput(t.config, s.roleArn!)));
  assert.match(r.output, /helm template check skipped: (helm is not on PATH|chart gloo\/gloo .* is not reachable)/);
  assert.match(r.output, /skipped\s+Gloo Edge install — no Kubernetes cluster answers kubectl .*; would run: helm upgrade --install gloo gloo\/gloo -n gloo-system --create-namespace --version v1.16.x --values /);
  assert.equal(r.results.map((x) => x.status), ['changed', 'skipped']);
});

test('a second run changes nothing', async () => {
  const r = await run([s10], t.config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), ['unchanged']);
});

test.run();
