// `make lab` in miniature: every step in one process against the lab, then
// again — the second run is all unchanged and verify passes both times.
// run.ts lane: cluster (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import crypto from 'node:crypto';
import { loadSteps } from '../../lib/steps.js';
import { lab, labConfig, mutating, run } from '../helpers/lab.js';
import type { Config } from '../../lib/config.js';
import type { Step } from '../../lib/step.js';

const id = crypto.randomBytes(3).toString('hex');
let config: Config;
let flow: Step[];
let verify: Step;

test.before(async () => {
  // The lab's own cluster, so Vault's IRSA identity is the server role step 03 manages.
  config = labConfig({ CLUSTER_NAME: lab().vaultCluster, VAULT_AUTH_MOUNT: `aws-ff-${id}`, VAULT_KV_MOUNT: `kv-ff-${id}`, VAULT_POLICY_NAME: `pol-ff-${id}`, GLOO_VALUES_FILE: `/tmp/vir-ff-${id}.yaml` });
  const steps = await loadSteps({ to: 12 });
  flow = steps.filter((s) => s.id !== '12');
  verify = steps.find((s) => s.id === '12')!;
});

test('first run: every step succeeds and verify proves the chain', async () => {
  const r = await run([...flow, verify], config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.id), ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']);
  for (const s of r.results.slice(0, 11)) assert.ok(['changed', 'unchanged', 'skipped'].includes(s.status), `${s.id} ${s.status}`);
  assert.is(r.results[11]!.status, 'verified');
  for (const id of ['05', '06', '07', '08', '09', '10']) assert.is(r.results.find((x) => x.id === id)!.status, 'changed', id);
  assert.match(r.output, 'all 5 links hold');
});

test('second run: all unchanged (or skipped), no mutating call, verify passes again', async () => {
  const r = await run(flow, config);
  assert.is(r.error, undefined, r.output);
  for (const s of r.results) assert.ok(['unchanged', 'skipped'].includes(s.status), `${s.id} ${s.status}`);
  assert.equal(mutating(r), []);
  const v = await run([verify], config);
  assert.is(v.error, undefined, v.output);
  assert.is(v.results[0]!.status, 'verified');
  assert.match(v.output, 'all 5 links hold');
});

test.after(async () => {
  const l = lab();
  const h = { 'X-Vault-Token': l.vaultToken };
  await fetch(`${l.vaultAddr}/v1/sys/auth/aws-ff-${id}`, { method: 'DELETE', headers: h });
  await fetch(`${l.vaultAddr}/v1/sys/mounts/kv-ff-${id}`, { method: 'DELETE', headers: h });
  await fetch(`${l.vaultAddr}/v1/sys/policies/acl/pol-ff-${id}`, { method: 'DELETE', headers: h });
});

test.run();
