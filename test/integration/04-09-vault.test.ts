// Steps 04-09 against the lab's Vault server (HashiCorp Vault, dev mode) and
// moto: configure, re-run without a single write, drift shown and repaired,
// KV v1 upgrade only when confirmed, and the two configuration errors that
// must stop before anything is written. Own mounts and policy name; removed
// at the end.
// run.ts lane: cluster (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import crypto from 'node:crypto';
import net from 'node:net';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s04 } from '../../runbook/04-install-vault.js';
import { step as s05 } from '../../runbook/05-enable-aws-auth.js';
import { step as s06 } from '../../runbook/06-enable-kv.js';
import { step as s07 } from '../../runbook/07-vault-policy.js';
import { step as s08 } from '../../runbook/08-aws-auth-config.js';
import { step as s09 } from '../../runbook/09-vault-role.js';
import { lab, labConfig, mutating, run } from '../helpers/lab.js';
import { vaultRoleName, type Config } from '../../lib/config.js';
import { ConfigError, ConfirmationError, RemoteError, RunbookError, formatError } from '../../lib/errors.js';
import { glooPolicyHcl, samePolicy } from '../../lib/vault-policy.js';

const id = crypto.randomBytes(3).toString('hex');
const AUTH = `aws-t0409-${id}`;
const KV = `kv-t0409-${id}`;
const KV1 = `kv1-t0409-${id}`;
const POLICY = `pol-t0409-${id}`;
// Built at run time so a credential scanner does not mistake it for a real token.
const FAKE_TOKEN = `hvs.${'notARealToken'.repeat(2)}`;
const vaultSteps = [s04, s05, s06, s07, s08, s09];
let config: Config;

/** Vault's HTTP API directly, as an operator changing things out of band would. */
async function vapi(method: string, path: string, body?: unknown): Promise<Record<string, any> | undefined> {
  const l = lab();
  const res = await fetch(`${l.vaultAddr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': l.vaultToken, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as Record<string, any>) : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const rolePath = () => `auth/${AUTH}/role/${vaultRoleName(config)}`;

test.before(async () => {
  // Step 09 needs the Gloo role (02), and Vault's own AWS identity is the Vault
  // server role of the lab's cluster (03): run 01-03 for that cluster.
  config = labConfig({ CLUSTER_NAME: lab().vaultCluster, VAULT_AWS_ENDPOINT_URL: lab().stsProxyUrl, VAULT_AUTH_MOUNT: AUTH, VAULT_KV_MOUNT: KV, VAULT_POLICY_NAME: POLICY });
  const r = await run([s01, s02, s03], config);
  assert.is(r.error, undefined, r.output);
});

test.after(async () => {
  await vapi('DELETE', `sys/auth/${AUTH}`).catch(() => undefined);
  await vapi('DELETE', `sys/mounts/${KV}`).catch(() => undefined);
  await vapi('DELETE', `sys/mounts/${KV1}`).catch(() => undefined);
  await vapi('DELETE', `sys/policies/acl/${POLICY}`).catch(() => undefined);
});

test('dry-run: the guide\'s manual commands with real values, no token, no write', async () => {
  const r = await run(vaultSteps, config, { mode: 'dry-run' });
  assert.is(r.error, undefined, r.output);
  assert.is(mutating(r).length, 0, JSON.stringify(mutating(r)));
  // dry-run reports a skipped step as unchanged
  assert.equal(r.results.map((x) => x.status), ['skipped', 'planned', 'planned', 'planned', 'planned', 'planned']);
  assert.match(r.output, `a Vault already answers at VAULT_ADDR=${config.vaultAddr}`);
  assert.match(r.output, `kubectl exec -n vault vault-0 -- vault auth enable -path=${AUTH} aws`);
  assert.match(r.output, `kubectl exec -n vault vault-0 -- vault secrets enable -path=${KV} -version=2 kv`);
  assert.match(r.output, `kubectl exec -i -n vault vault-0 -- vault policy write ${POLICY} - < policy.hcl`);
  assert.match(r.output, `kubectl exec -n vault vault-0 -- vault write auth/${AUTH}/config/client`);
  assert.match(r.output, `sts_endpoint=${config.vaultAwsEndpoint}`);
  assert.match(r.output, `iam_endpoint=${config.vaultAwsEndpoint}`);
  assert.match(r.output, `sts_region=${config.region}`);
  assert.match(r.output, `kubectl exec -n vault vault-0 -- vault write ${rolePath()}`);
  assert.match(r.output, `bound_iam_principal_arn=arn:aws:iam::${lab().accountId}:role/${config.roleName}`);
  assert.not.match(r.output, lab().vaultToken);
  assert.is(await vapi('GET', `sys/auth/${AUTH}`).catch(() => undefined), undefined);
});

test('first run configures Vault', async () => {
  const r = await run(vaultSteps, config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), ['skipped', 'changed', 'changed', 'changed', 'changed', 'changed']);
  assert.is(mutating(r).length, 5, JSON.stringify(mutating(r)));
  const auth = await vapi('GET', 'sys/auth');
  assert.is(auth!.data[`${AUTH}/`].type, 'aws');
  const mounts = await vapi('GET', 'sys/mounts');
  assert.is(mounts!.data[`${KV}/`].options.version, '2');
  assert.ok(samePolicy((await vapi('GET', `sys/policies/acl/${POLICY}`))!.data.policy, glooPolicyHcl(KV)));
  const client = (await vapi('GET', `auth/${AUTH}/config/client`))!.data;
  assert.is(client.iam_server_id_header_value, config.iamServerIdHeader);
  assert.is(client.sts_endpoint, config.vaultAwsEndpoint);
  assert.is(client.iam_endpoint, config.vaultAwsEndpoint);
  assert.is(client.sts_region, config.region);
  const role = (await vapi('GET', rolePath()))!.data;
  assert.is(role.auth_type, 'iam');
  assert.equal(role.bound_iam_principal_arn, [`arn:aws:iam::${lab().accountId}:role/${config.roleName}`]);
  assert.equal(role.token_policies, [POLICY]);
  assert.is(role.token_max_ttl, 86400);
  assert.ok(role.bound_iam_principal_id?.[0], 'Vault resolved the ARN to a unique id (iam:GetRole as the Vault server role)');
  assert.match(r.output, 'verified: role');
  assert.not.match(r.output, lab().vaultToken);
});

test('second run reports unchanged and makes zero write requests', async () => {
  const r = await run(vaultSteps, config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), ['skipped', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
  assert.is(mutating(r).length, 0, JSON.stringify(mutating(r)));
  assert.ok(r.calls.some((c) => c.action === `GET ${rolePath()}`), 'it read the role');
});

test('drift (policy edited, client config changed, role rebound out of band) is shown, then repaired', async () => {
  const other = `arn:aws:iam::${lab().accountId}:role/${config.vaultServerRoleName}`;
  await vapi('PUT', `sys/policies/acl/${POLICY}`, { policy: glooPolicyHcl(KV).replace('"delete", ', '') });
  await vapi('POST', `auth/${AUTH}/config/client`, { iam_server_id_header_value: 'evil.example.com' });
  await vapi('POST', rolePath(), { bound_iam_principal_arn: other });

  const plan = await run([s07, s08, s09], config, { mode: 'dry-run' });
  assert.is(plan.error, undefined, plan.output);
  assert.is(mutating(plan).length, 0);
  assert.match(plan.output, /-\s+capabilities = \["create", "read", "update", "list"\]/);
  assert.match(plan.output, /\+\s+capabilities = \["create", "read", "update", "delete", "list"\]/);
  assert.match(plan.output, `iam_server_id_header_value: "evil.example.com" -> "${config.iamServerIdHeader}"`);
  assert.match(plan.output, `bound_iam_principal_arn: ["${other}"] -> ["arn:aws:iam::${lab().accountId}:role/${config.roleName}"]`);

  const r = await run([s07, s08, s09], config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), ['changed', 'changed', 'changed']);
  assert.is(mutating(r).length, 3, JSON.stringify(mutating(r)));
  assert.match(r.output, 'drift on Vault policy');
  assert.match(r.output, 'iam_server_id_header_value: "evil.example.com"');
  assert.ok(samePolicy((await vapi('GET', `sys/policies/acl/${POLICY}`))!.data.policy, glooPolicyHcl(KV)));
  assert.is((await vapi('GET', `auth/${AUTH}/config/client`))!.data.iam_server_id_header_value, config.iamServerIdHeader);
  assert.equal((await vapi('GET', rolePath()))!.data.bound_iam_principal_arn, [`arn:aws:iam::${lab().accountId}:role/${config.roleName}`]);

  const again = await run([s07, s08, s09], config);
  assert.is(mutating(again).length, 0);
});

test('a policy that differs only in layout and order is not drift', async () => {
  const shuffled = 'path "sys/mounts" { capabilities = ["list", "read"] }\n# x\npath "' + KV + '/" { capabilities = ["list"] }\npath "' + KV + '/*" { capabilities = ["list", "delete", "update", "read", "create"] }\n';
  await vapi('PUT', `sys/policies/acl/${POLICY}`, { policy: shuffled });
  const r = await run([s07], config);
  assert.is(r.error, undefined, r.output);
  assert.is(r.results[0]!.status, 'unchanged');
  assert.is(mutating(r).length, 0);
});

test('a KV v1 mount is reported and upgraded to v2 only with --yes', async () => {
  await vapi('POST', `sys/mounts/${KV1}`, { type: 'kv', options: { version: '1' } });
  const c = { ...config, kvMount: KV1 };
  const plan = await run([s06], c, { mode: 'dry-run' });
  assert.match(plan.output, `would update KV v1 engine at ${KV1}/ (upgrade to v2)`);
  assert.match(plan.output, `kubectl exec -n vault vault-0 -- vault kv enable-versioning ${KV1}/`);
  const refused = await run([s06], c, { yes: false });
  assert.instance(refused.error, ConfirmationError);
  assert.is(mutating(refused).length, 0);
  assert.is((await vapi('GET', 'sys/mounts'))!.data[`${KV1}/`].options?.version ?? '1', '1');
  const r = await run([s06], c, { yes: true });
  assert.is(r.error, undefined, r.output);
  assert.is(r.results[0]!.status, 'changed');
  assert.is((await vapi('GET', 'sys/mounts'))!.data[`${KV1}/`].options.version, '2');
});

test('another auth method at the mount path is a configuration error, not overwritten', async () => {
  const taken = `userpass-t0409-${id}`;
  await vapi('POST', `sys/auth/${taken}`, { type: 'userpass' });
  try {
    const r = await run([s05], { ...config, authMount: taken });
    assert.instance(r.error, ConfigError);
    assert.match((r.error as Error).message, 'VAULT_AUTH_MOUNT');
    assert.is(mutating(r).length, 0);
  } finally {
    await vapi('DELETE', `sys/auth/${taken}`);
  }
});

test('wrong VAULT_TOKEN: one sentence naming the variable, non-zero, nothing written', async () => {
  const bad = labConfig({ CLUSTER_NAME: lab().vaultCluster, VAULT_AUTH_MOUNT: `${AUTH}-bad`, VAULT_KV_MOUNT: `${KV}-bad`, VAULT_POLICY_NAME: `${POLICY}-bad`, VAULT_TOKEN: FAKE_TOKEN });
  const r = await run(vaultSteps.slice(1), bad);
  assert.instance(r.error, ConfigError);
  const f = formatError(r.error);
  assert.ok(f.exitCode !== 0);
  assert.is(f.text.split('\n').length, 1, f.text);
  assert.match(f.text, 'VAULT_TOKEN');
  assert.not.match(r.output + f.text, 'notARealTokenAtAll');
  assert.is(mutating(r).length, 0);
  assert.is((await vapi('GET', 'sys/auth'))!.data[`${AUTH}-bad/`], undefined);
});

test('Vault unreachable: one sentence naming VAULT_ADDR and make lab-up, non-zero, nothing written', async () => {
  const addr = `http://127.0.0.1:${await freePort()}`;
  const down = labConfig({ CLUSTER_NAME: lab().vaultCluster, VAULT_ADDR: addr, VAULT_AUTH_MOUNT: AUTH, VAULT_KV_MOUNT: KV, VAULT_POLICY_NAME: POLICY });
  for (const steps of [vaultSteps, vaultSteps.slice(1)]) {
    const r = await run(steps, down);
    assert.instance(r.error, RemoteError, r.output);
    const f = formatError(r.error);
    assert.is(f.exitCode, 4);
    assert.is(f.text.split('\n').length, 1, f.text);
    assert.match(f.text, `VAULT_ADDR=${addr}`);
    assert.match(f.text, 'make lab-up');
    assert.is(mutating(r).length, 0);
  }
});

test('errors are RunbookErrors, never stacks', async () => {
  const r = await run([s05], { ...config, vaultToken: undefined });
  assert.instance(r.error, RunbookError);
  assert.match((r.error as Error).message, 'VAULT_TOKEN is not set');
});

test.run();
