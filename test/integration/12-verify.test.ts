// Step 12 in the lab, after the real steps 01-11: the whole chain holds; then
// each way Vault must refuse a login (no server-ID header, a wrong value, the
// header outside the signature, an IAM role the Vault role is not bound to) is
// reported at link 4 with its cause, and a trust mismatch at link 2.
// run.ts lane: names (about 3 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CreateRoleCommand, DeleteRoleCommand } from '@aws-sdk/client-iam';
import { loadSteps } from '../../lib/steps.js';
import { step as s12, verifyChain, type Link } from '../../runbook/12-verify.js';
import { teardownSteps } from '../helpers/teardown.js';
import { lab, run } from '../helpers/lab.js';
import { makeCtx } from '../../lib/run.js';
import { State } from '../../lib/state.js';
import { captureOutput } from '../../lib/log.js';
import { VerificationError, formatError } from '../../lib/errors.js';
import { vaultRoleName } from '../../lib/config.js';
import { serialize } from '../../lib/iam-documents.js';
import { glooTrust } from '../../lib/iam-documents.js';
import { iamClient, setup, vapi, type TestSetup } from './10-13-setup.js';

let t: TestSetup;
const otherRole = () => `other-${t.names.role}`;

function ctx() {
  return makeCtx(t.config, new State(t.config.stateFile, t.config, true), 'apply', true);
}

async function chain(opts: Parameters<typeof verifyChain>[1]): Promise<Link[]> {
  const restore = captureOutput(() => undefined);
  try {
    return await verifyChain(ctx(), opts);
  } finally {
    restore();
  }
}

test.before(async () => {
  t = await setup('t12');
  const steps = await loadSteps({ to: 11 });
  const r = await run(steps, t.config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  await iamClient().send(new DeleteRoleCommand({ RoleName: otherRole() })).catch(() => undefined);
  const r = await run(teardownSteps, t.config, { yes: true });
  assert.is(r.error, undefined, r.output);
});

test('make verify: every link ok, the test secret is gone afterwards, nothing secret printed', async () => {
  const r = await run([s12], t.config);
  assert.is(r.error, undefined, r.output);
  for (const n of [1, 2, 3, 4, 5]) assert.match(r.output, new RegExp(`ok\\s+${n} `), `link ${n}\n${r.output}`);
  assert.match(r.output, 'SA_TOKEN_COMMAND (sa-token)');
  assert.match(r.output, `wrote, read back and deleted ${t.names.kv}/data/gloo/gloo.solo.io/v1/Secret/gloo-system/irsa-verify`);
  assert.match(r.output, 'all 5 links hold');
  assert.is(await vapi('GET', `${t.names.kv}/metadata/gloo/gloo.solo.io/v1/Secret/gloo-system/irsa-verify`), undefined);
  assert.not.match(r.output, lab().vaultToken);
  assert.not.match(r.output, /hvs\.[A-Za-z0-9]{20,}/);
  assert.not.match(r.output, lab().secretAccessKey);
});

test('Vault rejects a login without the server-ID header: link 4', async () => {
  const links = await chain({ serverIdMode: 'omitted' });
  const last = links.at(-1)!;
  assert.equal([last.n, last.ok], [4, false], JSON.stringify(links));
  assert.match(last.detail, 'carried none');
  assert.match(last.detail, /missing header/);
});

test('Vault rejects a wrong server-ID value: link 4', async () => {
  const last = (await chain({ serverId: 'wrong.example.com' })).at(-1)!;
  assert.equal([last.n, last.ok], [4, false]);
  assert.match(last.detail, `the server-ID header sent (wrong.example.com) differs from auth/${t.names.auth}/config/client iam_server_id_header_value (${t.config.iamServerIdHeader})`);
});

test('Vault rejects a server-ID header outside the signature: link 4', async () => {
  const last = (await chain({ serverIdMode: 'unsigned' })).at(-1)!;
  assert.equal([last.n, last.ok], [4, false]);
  assert.match(last.detail, 'outside the signature');
});

test('Vault rejects an IAM role the Vault role is not bound to: link 4', async () => {
  const s = ctx().state.values();
  await iamClient().send(new CreateRoleCommand({ RoleName: otherRole(), AssumeRolePolicyDocument: serialize(glooTrust(t.config, s.providerArn!, s.oidcProvider!)) }));
  const other = `arn:aws:iam::${lab().accountId}:role/${otherRole()}`;
  const last = (await chain({ roleArn: other })).at(-1)!;
  assert.equal([last.n, last.ok], [4, false]);
  assert.match(last.detail, `Vault role ${vaultRoleName(t.config)} does not accept arn:aws:sts::${lab().accountId}:assumed-role/${otherRole()}/`);
  assert.match(last.detail, `bound to ${s.roleArn}`);
});

test('a token the trust policy does not cover: link 2, with sub named', async () => {
  const last = (await chain({ serviceAccount: 'gateway-proxy' })).at(-1)!;
  assert.equal([last.n, last.ok], [2, false]);
  assert.match(last.detail, ':sub: the token has "system:serviceaccount:gloo-system:gateway-proxy"');
});

test('step 12 exits 6 at the broken link: Vault role bound to another ARN', async () => {
  const path = `auth/${t.names.auth}/role/${vaultRoleName(t.config)}`;
  const before = (await vapi('GET', path))!.data;
  await vapi('POST', path, { bound_iam_principal_arn: `arn:aws:iam::${lab().accountId}:role/${otherRole()}` });
  try {
    const r = await run([s12], t.config);
    assert.instance(r.error, VerificationError, r.output);
    assert.is(formatError(r.error).exitCode, 6);
    assert.match(r.output, /failed\s+4 Vault login/);
    assert.match(formatError(r.error).text, 'link 4 (Vault login');
  } finally {
    await vapi('POST', path, { bound_iam_principal_arn: before.bound_iam_principal_arn });
  }
  const ok = await run([s12], t.config);
  assert.is(ok.error, undefined, ok.output);
});

test.run();
