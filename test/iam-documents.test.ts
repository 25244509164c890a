import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { trustPolicy, vaultAuthPolicy, vaultServerPolicy, getRoleFixPolicy, sameDocument, parsePolicyDocument, oidcProviderOf, oidcProviderArn, serialize } from '../lib/iam-documents.js';

const P = 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const ARN = `arn:aws:iam::123456789012:oidc-provider/${P}`;

test('trust policy equals the document of docs/GUIDE.md §02 (default namespace and service accounts)', () => {
  const spec = {
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow',
      Principal: { Federated: ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${P}:aud`]: 'sts.amazonaws.com', [`${P}:sub`]: ['system:serviceaccount:gloo-system:gloo', 'system:serviceaccount:gloo-system:discovery'] } },
    }],
  };
  assert.equal(trustPolicy({ providerArn: ARN, oidcProvider: P, namespace: 'gloo-system', serviceAccounts: ['gloo', 'discovery'] }), spec);
});

test('trust policy for a custom namespace and service accounts; never StringEqualsIfExists or an empty aud', () => {
  const doc = trustPolicy({ providerArn: ARN, oidcProvider: P, namespace: 'edge', serviceAccounts: ['gw', 'disc', 'x'] });
  const cond = doc.Statement[0]!.Condition!;
  assert.equal(Object.keys(cond), ['StringEquals']);
  assert.is(cond.StringEquals![`${P}:aud`], 'sts.amazonaws.com');
  assert.equal(cond.StringEquals![`${P}:sub`], ['system:serviceaccount:edge:gw', 'system:serviceaccount:edge:disc', 'system:serviceaccount:edge:x']);
});

test('the Gloo policy has exactly the guide actions and is valid JSON', () => {
  const roleArn = 'arn:aws:iam::123456789012:role/dev-role-iam-c';
  const doc = JSON.parse(serialize(vaultAuthPolicy(roleArn)));
  assert.equal(doc.Statement[0].Action, ['ec2:DescribeInstances', 'iam:GetInstanceProfile', 'iam:GetUser', 'iam:GetRole']);
  assert.is(doc.Statement[0].Resource, '*');
  assert.equal(doc.Statement[1], { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: [roleArn] });
});

test('the Vault server policy and the guide fix are least privilege', () => {
  assert.equal(vaultServerPolicy().Statement[0]!.Action, ['iam:GetRole', 'iam:GetUser']);
  const fix = getRoleFixPolicy('arn:aws:iam::1:role/r');
  assert.is(fix.Statement[0]!.Resource, 'arn:aws:iam::1:role/r');
  assert.is(fix.Statement[0]!.Action, 'iam:GetRole');
});

test('semantic comparison ignores key order, single-item arrays and URL encoding', () => {
  const a = trustPolicy({ providerArn: ARN, oidcProvider: P, namespace: 'n', serviceAccounts: ['gloo'] });
  const encoded = encodeURIComponent(JSON.stringify(JSON.parse(JSON.stringify(a))));
  assert.ok(sameDocument(parsePolicyDocument(encoded), a));
  const reordered = { Statement: [{ ...a.Statement[0], Action: ['sts:AssumeRoleWithWebIdentity'] }], Version: '2012-10-17' };
  assert.ok(sameDocument(reordered, a));
  const other = trustPolicy({ providerArn: ARN, oidcProvider: P, namespace: 'm', serviceAccounts: ['gloo'] });
  assert.not.ok(sameDocument(other, a));
});

test('provider ARN and OIDC_PROVIDER from the issuer', () => {
  assert.is(oidcProviderOf(`https://${P}`), P);
  assert.is(oidcProviderArn('aws-cn', '1', 'x/y'), 'arn:aws-cn:iam::1:oidc-provider/x/y');
});

test.run();
