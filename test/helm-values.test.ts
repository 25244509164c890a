// Pure: keeping a release's user values and refusing to move a chart backwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chartVersionOf, isDowngrade, mergeValues, planValues } from '../lib/helm-values.js';

test('the runbook keys go over the user values; other user keys are kept', () => {
  const live = { gateway: { enabled: false }, settings: { secretOptions: { sources: [{ kubernetes: {} }] } } };
  const wanted = { settings: { secretOptions: { sources: [{ vault: { address: 'x' } }] } } };
  const p = planValues(live, wanted);
  assert.equal(p.merged, { gateway: { enabled: false }, settings: { secretOptions: { sources: [{ vault: { address: 'x' } }] } } });
  assert.equal(p.changes.length, 1);
  assert.equal(p.dropped, []);
});

test('a user leaf the merge removes is dropped (destructive)', () => {
  const p = planValues({ gloo: { serviceAccount: 'custom' } }, { gloo: { serviceAccount: { extraAnnotations: { a: 'b' } } } });
  assert.equal(p.dropped.length, 1);
  assert.match(p.dropped[0]!, 'gloo.serviceAccount');
});

test('same values: nothing to change', () => {
  const v = { a: { b: 1 } };
  const p = planValues({ ...v, c: 2 }, v);
  assert.equal(p.changes, []);
  assert.equal(p.merged, { a: { b: 1 }, c: 2 });
  assert.equal(mergeValues({ a: 1, b: 2 }, { b: null }), { a: 1 });
});

test('chart versions: backwards only when EDGE_VERSION is older than the installed chart', () => {
  assert.is(chartVersionOf('gloo-1.17.2', 'gloo'), '1.17.2');
  assert.is(chartVersionOf('gloo-1.16.0-lab', 'gloo'), '1.16.0-lab');
  assert.ok(isDowngrade('v1.16.x', '1.17.2'));
  assert.ok(isDowngrade('1.16.3', '1.16.4'));
  assert.ok(isDowngrade('1.17.0-beta1', '1.17.0'));
  assert.not.ok(isDowngrade('v1.16.x', '1.16.0-lab'));
  assert.not.ok(isDowngrade('v1.17.0', '1.16.9'));
  assert.not.ok(isDowngrade('1.17.0', '1.17.0-beta1'));
  assert.not.ok(isDowngrade('latest', '1.17.0'));
});

test.run();
