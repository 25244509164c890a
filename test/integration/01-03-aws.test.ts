// Steps 01-03 against the lab's moto server: create, idempotent re-run,
// drift, and bad input that must leave nothing behind.
// run.ts lane: alone (about 2 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import crypto from 'node:crypto';
import {
  IAMClient,
  GetRoleCommand,
  ListRolesCommand,
  ListPoliciesCommand,
  ListOpenIDConnectProvidersCommand,
  UpdateAssumeRolePolicyCommand,
  CreatePolicyVersionCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  ListPolicyVersionsCommand,
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
} from '@aws-sdk/client-iam';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { ensureCluster, lab, labConfig, mutating, run } from '../helpers/lab.js';
import { ConfigError, PrerequisiteError } from '../../lib/errors.js';
import { parsePolicyDocument, sameDocument, trustPolicy, vaultAuthPolicy } from '../../lib/iam-documents.js';
import type { Config } from '../../lib/config.js';

const cluster = `t0103-${crypto.randomBytes(3).toString('hex')}`;
let config: Config;
let iam: IAMClient;

async function names() {
  const roles = (await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles?.map((r) => r.RoleName!) ?? [];
  const policies = (await iam.send(new ListPoliciesCommand({ Scope: 'Local', MaxItems: 1000 }))).Policies?.map((p) => p.PolicyName!) ?? [];
  const providers = (await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList?.map((p) => p.Arn!) ?? [];
  return { roles, policies, providers };
}

test.before(async () => {
  await ensureCluster(cluster);
  config = labConfig({ CLUSTER_NAME: cluster });
  const l = lab();
  iam = new IAMClient({ region: l.region, endpoint: l.awsEndpoint, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey } });
});

test('dry-run on a fresh cluster plans every change and writes nothing', async () => {
  const r = await run([s01, s02, s03], config, { mode: 'dry-run' });
  assert.is(r.error, undefined, r.output);
  assert.is(mutating(r).length, 0, JSON.stringify(mutating(r)));
  assert.match(r.output, 'would create');
  assert.match(r.output, 'aws iam create-role');
  assert.match(r.output, `--endpoint-url ${config.awsEndpoint}`);
  const n = await names();
  assert.not.ok(n.roles.includes(config.roleName));
});

test('first run creates the provider, both roles and the policy', async () => {
  // moto gives every EKS cluster the same issuer, so the provider may exist from another test file.
  const providerExisted = (await names()).providers.length > 0 && (await run([s01], config, { mode: 'dry-run' })).output.includes('unchanged');
  const r = await run([s01, s02, s03], config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), [providerExisted ? 'unchanged' : 'changed', 'changed', 'changed']);
  const n = await names();
  assert.ok(n.roles.includes(config.roleName));
  assert.ok(n.roles.includes(config.vaultServerRoleName));
  assert.ok(n.policies.includes(config.policyName));
  const role = await iam.send(new GetRoleCommand({ RoleName: config.roleName }));
  assert.ok(role.Role?.Tags?.some((t) => t.Key === 'managed-by' && t.Value === 'vault-irsa-runbook'), 'tagged');
});

test('second run reports everything unchanged and makes no mutating AWS call', async () => {
  const r = await run([s01, s02, s03], config);
  assert.is(r.error, undefined, r.output);
  assert.equal(r.results.map((x) => x.status), ['unchanged', 'unchanged', 'unchanged']);
  assert.is(mutating(r).length, 0, JSON.stringify(mutating(r)));
  assert.ok(r.calls.length > 0, 'it did read live state');
});

test('drift in the trust policy and the policy document: dry-run shows it and changes nothing; apply converges', async () => {
  const s = (await run([s01], config)).results;
  assert.is(s[0]!.status, 'unchanged');
  const wrongTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/x' }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEqualsIfExists: { 'x:aud': '' } } }] };
  await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: config.roleName, PolicyDocument: JSON.stringify(wrongTrust) }));
  const policyArn = `arn:aws:iam::${lab().accountId}:policy/${config.policyName}`;
  const narrowed = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['iam:GetRole'], Resource: '*' }] };
  await iam.send(new CreatePolicyVersionCommand({ PolicyArn: policyArn, PolicyDocument: JSON.stringify(narrowed), SetAsDefault: true }));

  const dry = await run([s01, s02, s03], config, { mode: 'dry-run' });
  assert.is(dry.error, undefined, dry.output);
  assert.is(mutating(dry).length, 0);
  assert.match(dry.output, 'would update');
  assert.match(dry.output, /-\s+"StringEqualsIfExists"/);
  assert.match(dry.output, /\+\s+"StringEquals"/);
  assert.match(dry.output, 'aws iam update-assume-role-policy');
  assert.match(dry.output, 'aws iam create-policy-version');
  const still = await iam.send(new GetRoleCommand({ RoleName: config.roleName }));
  assert.ok(sameDocument(parsePolicyDocument(still.Role!.AssumeRolePolicyDocument!), wrongTrust), 'dry-run changed nothing');

  const fix = await run([s01, s02, s03], config);
  assert.is(fix.error, undefined, fix.output);
  assert.equal(mutating(fix).map((c) => c.action).sort(), ['CreatePolicyVersion', 'UpdateAssumeRolePolicy']);
  const role = await iam.send(new GetRoleCommand({ RoleName: config.roleName }));
  const st = fix.results;
  assert.is(st[1]!.status, 'changed');
  const values = (await run([s01], config)).results;
  assert.ok(values);
  const trust = parsePolicyDocument(role.Role!.AssumeRolePolicyDocument!);
  const providerArn = (trust as { Statement: { Principal: { Federated: string } }[] }).Statement[0]!.Principal.Federated;
  const oidcProvider = providerArn.split('oidc-provider/')[1]!;
  assert.ok(sameDocument(trust, trustPolicy({ providerArn, oidcProvider, namespace: 'gloo-system', serviceAccounts: ['gloo', 'discovery'] })));
  const p = await iam.send(new GetPolicyCommand({ PolicyArn: policyArn }));
  const v = await iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: p.Policy!.DefaultVersionId! }));
  assert.ok(sameDocument(parsePolicyDocument(v.PolicyVersion!.Document!), vaultAuthPolicy(role.Role!.Arn!)));

  const again = await run([s01, s02, s03], config);
  assert.is(mutating(again).length, 0, 'converged');
});

test('policy drift at the five-version limit drops the oldest non-default version', async () => {
  const policyArn = `arn:aws:iam::${lab().accountId}:policy/${config.policyName}`;
  for (let i = 0; i < 5; i++) {
    const list = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policyArn }));
    if ((list.Versions ?? []).length >= 5) break;
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: policyArn, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iam:GetUser', Resource: `arn:aws:iam::1:user/u${i}` }] }), SetAsDefault: true }));
  }
  assert.is((await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policyArn }))).Versions!.length, 5);
  const r = await run([s01, s02, s03], config);
  assert.is(r.error, undefined, r.output);
  assert.ok(mutating(r).some((c) => c.action === 'DeletePolicyVersion'));
  assert.is((await iam.send(new ListPolicyVersionsCommand({ PolicyArn: policyArn }))).Versions!.length, 5);
});

test('a provider without sts.amazonaws.com: dry-run plans adding the client ID with the exact command', async () => {
  // moto implements no AddClientIDToOpenIDConnectProvider, so the change itself is only planned here.
  const issuer = `https://issuer-${crypto.randomBytes(3).toString('hex')}.example.com/id/lab`;
  await iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: ['some-other-audience'], ThumbprintList: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'] }));
  const cfg = labConfig({ CLUSTER_NAME: cluster, OIDC_ISSUER: issuer });
  const r = await run([s01], cfg, { mode: 'dry-run' });
  assert.is(r.error, undefined, r.output);
  assert.is(mutating(r).length, 0);
  assert.match(r.output, 'would update client ID sts.amazonaws.com');
  assert.match(r.output, /aws iam add-client-id-to-open-id-connect-provider[\s\\]+--open-id-connect-provider-arn arn:aws:iam::123456789012:oidc-provider\/issuer-/);
  await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: `arn:aws:iam::123456789012:oidc-provider/${issuer.replace('https://', '')}` }));
});

test('lost state is recovered from IAM (GetRole) instead of failing', async () => {
  const fresh = labConfig({ CLUSTER_NAME: cluster });
  const r1 = await run([s01], fresh);
  assert.is(r1.error, undefined);
  const r = await run([s03], fresh);
  assert.is(r.error, undefined, r.output);
  assert.match(r.output, 'recovered roleArn from live state');
});

test('step 02 on a cluster whose OIDC provider does not exist names step 01 (exit 3), creating nothing', async () => {
  const before = await names();
  const cfg = labConfig({ CLUSTER_NAME: 'noprovider-zz', OIDC_ISSUER: 'https://issuer.example.com/id/noprovider' });
  const r = await run([s02], cfg);
  assert.instance(r.error, PrerequisiteError, r.output);
  assert.match((r.error as Error).message, /run `make step-01` first/);
  assert.equal((await names()).roles.sort(), before.roles.sort());
});

const bad: [string, Record<string, string>, RegExp][] = [
  ['unknown cluster', { CLUSTER_NAME: 'no-such-cluster-zz' }, /EKS cluster "no-such-cluster-zz" was not found in us-east-1: check CLUSTER_NAME and AWS_REGION, or set OIDC_ISSUER/],
  ['malformed issuer', { CLUSTER_NAME: 'issuer-bad-zz', OIDC_ISSUER: 'https://issuer.example.com/id/x?y=1' }, /the OIDC issuer "https:\/\/issuer\.example\.com\/id\/x\?y=1" is malformed/],
  ['wrong account in the given role ARN', { CLUSTER_NAME: 'wrongacct-zz', OIDC_ISSUER: 'https://issuer.example.com/id/wrongacct', VAULT_AUTH_ROLE_ARN: 'arn:aws:iam::999999999999:role/dev-role-iam-wrongacct-zz' }, /VAULT_AUTH_ROLE_ARN names account 999999999999, but the AWS credentials are for account 123456789012/],
];
for (const [name, env, expected] of bad) {
  test(`bad input, ${name}: one sentence, non-zero, nothing created`, async () => {
    const before = await names();
    const cfg = labConfig(env);
    const r = await run([s01, s02, s03], cfg);
    assert.ok(r.error, 'it failed');
    assert.instance(r.error, ConfigError);
    assert.match((r.error as Error).message, expected);
    assert.is((r.error as Error).message.split('\n').length, 1);
    const after = await names();
    assert.equal(after.roles.sort(), before.roles.sort());
    assert.equal(after.policies.sort(), before.policies.sort());
    assert.equal(after.providers.sort(), before.providers.sort());
  });
}

test.run();
