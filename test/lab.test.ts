// Checks the RUNNING lab (make lab-up) end to end with real clients. A lab that is
// not up is a failure, not a skip: these tests exist to prove the lab works.
// run.ts lane: alone (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { EKSClient, DescribeClusterCommand } from '@aws-sdk/client-eks';
import { IAMClient, GetRoleCommand, CreateRoleCommand, DeleteRoleCommand } from '@aws-sdk/client-iam';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { readLabEnv, mintServiceAccountToken, setMotoEnforcement, assumeRoleWithWebIdentity, type LabEnv } from '../lab/lib/lab.js';

const run = promisify(execFile);
const bin = (name: string) => fileURLToPath(new URL(`../lab/bin/${name}`, import.meta.url));

let lab: LabEnv;
test.before(() => {
  try {
    lab = readLabEnv();
  } catch (e) {
    throw new Error(`lab tests need a running lab: ${(e as Error).message}`);
  }
});

const aws = () => ({
  region: lab.region,
  endpoint: lab.awsEndpoint,
  credentials: { accessKeyId: lab.accessKeyId, secretAccessKey: lab.secretAccessKey },
});

const vault = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${lab.vaultAddr}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': lab.vaultToken, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
};

test('vault dev server is initialized and unsealed', async () => {
  const res = await fetch(`${lab.vaultAddr}/v1/sys/health`);
  assert.is(res.status, 200);
  const h = (await res.json()) as { initialized: boolean; sealed: boolean; version: string };
  assert.ok(h.initialized, 'initialized');
  assert.not.ok(h.sealed, 'unsealed');
});

test('STS GetCallerIdentity answers as the lab-admin user in the moto account', async () => {
  const id = await new STSClient(aws()).send(new GetCallerIdentityCommand({}));
  assert.is(id.Account, '123456789012');
  assert.is(id.Arn, 'arn:aws:iam::123456789012:user/lab-admin');
});

test('EKS DescribeCluster returns an EKS-shaped OIDC issuer', async () => {
  const { cluster } = await new EKSClient(aws()).send(new DescribeClusterCommand({ name: lab.vaultCluster }));
  const iss = cluster?.identity?.oidc?.issuer ?? '';
  assert.match(iss, new RegExp(`^https://oidc\\.eks\\.${lab.region}\\.amazonaws\\.com/id/[A-Za-z0-9]+$`));
  assert.is(iss, lab.clusterIssuer(), 'recorded issuer matches DescribeCluster');
});

test('vault can enable and disable the aws auth method', async () => {
  const path = `aws-labtest-${process.pid}`;
  const enabled = await vault('POST', `sys/auth/${path}`, { type: 'aws' });
  assert.is(enabled.status, 204, JSON.stringify(enabled.json));
  try {
    const list = await vault('GET', 'sys/auth');
    const mounts = (list.json.data ?? list.json) as Record<string, { type: string }>;
    assert.is(mounts[`${path}/`]?.type, 'aws');
  } finally {
    assert.is((await vault('DELETE', `sys/auth/${path}`)).status, 204);
  }
});

test('a minted SA token has the IRSA claims and verifies against the served JWKS', async () => {
  const jwt = await mintServiceAccountToken('gloo-system', 'gloo');
  const jwks = createRemoteJWKSet(new URL(`${lab.issuerUrl}/keys`));
  const { payload, protectedHeader } = await jwtVerify(jwt, jwks, {
    issuer: lab.clusterIssuer(),
    audience: 'sts.amazonaws.com',
    algorithms: ['RS256'],
  });
  assert.is(payload.sub, 'system:serviceaccount:gloo-system:gloo');
  assert.ok(protectedHeader.kid);
  const ttl = payload.exp! - payload.iat!;
  assert.ok(ttl > 0 && ttl <= 3600, `short-lived (${ttl}s)`);
  const disc = (await (await fetch(`${lab.issuerUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
  assert.is(disc.issuer, lab.clusterIssuer());
  assert.is(disc.jwks_uri, `${lab.issuerUrl}/keys`);
});

test('lab/bin/sa-token prints a token with the same kid as the JWKS', async () => {
  const { stdout } = await run(bin('sa-token'), ['vault', 'vault']);
  const keys = (await (await fetch(`${lab.issuerUrl}/keys`)).json()) as { keys: { kid: string }[] };
  assert.is(decodeProtectedHeader(stdout.trim()).kid, keys.keys[0]!.kid);
});

test('lab/bin/sa-token rejects bad input with one sentence and exit 1', async () => {
  const err = await run(bin('sa-token'), ['Not_A_Namespace', 'x']).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  assert.ok(err, 'must fail');
  assert.is(err!.code, 1);
  assert.match(err!.stderr, /not a valid namespace/);
});

test('moto enforcement can be switched on and off at runtime', async () => {
  const before = await setMotoEnforcement(true);
  try {
    // Unsigned requests are refused once enforcement is on; the lab-admin user still passes.
    const unsigned = await fetch(`${lab.awsEndpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: `iam.amazonaws.com` },
      body: 'Action=ListRoles&Version=2010-05-08',
    });
    assert.ok(unsigned.status >= 400, `unsigned ListRoles refused (HTTP ${unsigned.status})`);
    const id = await new STSClient(aws()).send(new GetCallerIdentityCommand({}));
    assert.is(id.Account, '123456789012');
  } finally {
    await setMotoEnforcement(before.wasOn);
  }
});

test("vault's own AWS identity is the IRSA role, and enforcement reproduces the guide's iam:GetRole deny", async () => {
  const iam = new IAMClient(aws());
  const roleName = lab.vaultServerRoleArn.split('/').pop()!;
  const target = `lab-test-target-${process.pid}`;
  const mount = `aws-labtest-irsa-${process.pid}`;
  // The runbook's step 03 owns the Vault server role: only create (and later remove) it if absent.
  const existed = await iam.send(new GetRoleCommand({ RoleName: roleName })).then(() => true, () => false);
  if (!existed) await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }));
  const targetArn = (await iam.send(new CreateRoleCommand({ RoleName: target, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }))).Role!.Arn!;
  assert.is((await vault('POST', `sys/auth/${mount}`, { type: 'aws' })).status, 204);
  const before = await setMotoEnforcement(true);
  try {
    const cfg = await vault('POST', `auth/${mount}/config/client`, { iam_endpoint: lab.awsEndpoint, sts_endpoint: lab.awsEndpoint, sts_region: lab.region });
    assert.is(cfg.status, 204, JSON.stringify(cfg.json));
    const write = await vault('POST', `auth/${mount}/role/labtest`, { auth_type: 'iam', bound_iam_principal_arn: targetArn, token_policies: 'default' });
    if (!existed) {
      // Same shape as the guide's troubleshooting section, with the Vault server's own role.
      // aws-sdk-go v1 cannot parse moto's auth-error envelope, so Vault shows the 403 only.
      assert.is(write.status, 400, JSON.stringify(write.json));
      assert.match(JSON.stringify(write.json), /unable to resolve ARN.*status code: 403/);
      // The same identity through the SDK v3 shows the guide's full text.
      const creds = await assumeRoleWithWebIdentity(lab.vaultServerRoleArn, await mintServiceAccountToken('vault', 'vault'), 'vault', lab);
      const err = await new IAMClient({ ...aws(), credentials: creds }).send(new GetRoleCommand({ RoleName: target })).then(() => undefined, (e: Error) => e);
      assert.match(String(err?.message), `User: arn:aws:sts::123456789012:assumed-role/${roleName}/vault is not authorized to perform: iam:GetRole`);
    }
  } finally {
    await setMotoEnforcement(before.wasOn);
    await vault('DELETE', `sys/auth/${mount}`);
    await iam.send(new DeleteRoleCommand({ RoleName: target }));
    if (!existed) await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
  }
});

test('lab/bin/status reports every service answering', async () => {
  const { stdout } = await run(bin('status'), []);
  for (const s of ['moto', 'issuer', 'sts-proxy', 'vault']) {
    assert.match(stdout, new RegExp(`^${s}\\s+pid \\d+\\s+answers`, 'm'));
  }
});

test.run();
