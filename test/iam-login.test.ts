// The IAM login request (GUIDE "The IAM login") and the pure diagnoses of
// lib/troubleshoot.ts: the negative cases are built here without a lab.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildIamLoginRequest, decodeIamLoginRequest, GET_CALLER_IDENTITY_BODY, SERVER_ID_HEADER } from '../lib/iam-login.js';
import {
  checkTokenAgainstTrust,
  diagnoseKv,
  diagnoseProvider,
  diagnoseRoleBinding,
  diagnoseServerId,
  diagnoseTrust,
  explainGetRoleDenied,
  explainLoginFailure,
  parseGetRoleDenied,
  saClaims,
} from '../lib/troubleshoot.js';
import { trustPolicy } from '../lib/iam-documents.js';
import { redact } from '../lib/redact.js';

const creds = { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey: 'secret-key-that-must-not-leak', sessionToken: 'session-token-that-must-not-leak' };
const base = { role: 'dev-role', credentials: creds, region: 'us-east-1', stsUrl: 'https://sts.us-east-1.amazonaws.com/', serverId: 'vault.gloo.example.com', signingDate: new Date('2026-01-01T00:00:00Z') };

test('signed: the server-ID header is inside SignedHeaders, body and URL as docs/GUIDE.md says', async () => {
  const r = await buildIamLoginRequest(base);
  const d = decodeIamLoginRequest(r);
  assert.is(r.iam_http_request_method, 'POST');
  assert.is(d.url, 'https://sts.us-east-1.amazonaws.com/');
  assert.is(d.body, GET_CALLER_IDENTITY_BODY);
  assert.equal(d.headers[SERVER_ID_HEADER], ['vault.gloo.example.com']);
  assert.ok(d.signedHeaders.includes('x-vault-aws-iam-server-id'), d.signedHeaders.join(';'));
  assert.ok(d.signedHeaders.includes('host'));
  assert.equal(d.headers.Host, ['sts.us-east-1.amazonaws.com']);
  assert.ok(d.headers.Authorization![0]!.includes('Credential=ASIAEXAMPLEEXAMPLE12/20260101/us-east-1/sts/aws4_request'));
  assert.equal(d.headers['X-Amz-Security-Token'], [creds.sessionToken]);
});

test('deterministic for a given signing date', async () => {
  assert.equal(await buildIamLoginRequest(base), await buildIamLoginRequest(base));
});

test('omitted: no server-ID header at all', async () => {
  const d = decodeIamLoginRequest(await buildIamLoginRequest({ ...base, serverIdMode: 'omitted' }));
  assert.not.ok(SERVER_ID_HEADER in d.headers);
  assert.not.ok(d.signedHeaders.includes('x-vault-aws-iam-server-id'));
});

test('unsigned: header present but outside the signature', async () => {
  const d = decodeIamLoginRequest(await buildIamLoginRequest({ ...base, serverIdMode: 'unsigned' }));
  assert.equal(d.headers[SERVER_ID_HEADER], ['vault.gloo.example.com']);
  assert.not.ok(d.signedHeaders.includes('x-vault-aws-iam-server-id'));
});

test('an emulator URL keeps its port in the signed Host', async () => {
  const d = decodeIamLoginRequest(await buildIamLoginRequest({ ...base, stsUrl: 'http://127.0.0.1:4566/' }));
  assert.equal(d.headers.Host, ['127.0.0.1:4566']);
  assert.is(d.url, 'http://127.0.0.1:4566/');
});

test('the secret key and session token are registered for redaction', async () => {
  await buildIamLoginRequest(base);
  assert.not.ok(redact(`x ${creds.secretAccessKey} ${creds.sessionToken}`).includes('must-not-leak'));
});

// ---- diagnoses ---------------------------------------------------------------

const GUIDE_ERROR = 'Error writing data to auth/aws/role/dev-role-iam: Error making API request. Code: 400. Errors: * unable to resolve ARN "arn:aws:iam::123456789012:role/dev-role-iam" to internal ID: AccessDenied: User: arn:aws:sts::123456789012:assumed-role/foo-role/bar is not authorized to perform: iam:GetRole on resource: role dev-role-iam because no identity-based policy allows the iam:GetRole action\n\tstatus code: 403';

test('parseGetRoleDenied: the guide error names the identity and the bound ARN', () => {
  const d = parseGetRoleDenied(GUIDE_ERROR)!;
  assert.equal(d, { identityArn: 'arn:aws:sts::123456789012:assumed-role/foo-role/bar', kind: 'assumed-role', principalName: 'foo-role', boundArn: 'arn:aws:iam::123456789012:role/dev-role-iam', namedBy: 'aws' });
  const f = explainGetRoleDenied(d, 'vault-server-x');
  assert.ok(f.title.includes('arn:aws:sts::123456789012:assumed-role/foo-role/bar'));
  assert.ok(f.explanation.includes('not the Vault server role vault-server-x'));
  assert.is(parseGetRoleDenied('permission denied'), undefined);
});

test('parseGetRoleDenied: a 403 whose text did not reach Vault falls back to the configured identity', () => {
  const msg = 'unable to resolve ARN "arn:aws:iam::123456789012:role/r" to internal ID: : \n\tstatus code: 403, request id: X';
  assert.is(parseGetRoleDenied(msg), undefined, 'no identity known: not claimed');
  const d = parseGetRoleDenied(msg, 'arn:aws:iam::123456789012:role/vault-server-x')!;
  assert.equal(d, { identityArn: 'arn:aws:iam::123456789012:role/vault-server-x', kind: 'role', principalName: 'vault-server-x', boundArn: 'arn:aws:iam::123456789012:role/r', namedBy: 'configuration' });
  assert.match(explainGetRoleDenied(d, 'vault-server-x').explanation, 'did not reach Vault');
});

const PROV = 'oidc.eks.us-east-1.amazonaws.com/id/ABC';
const PROV_ARN = `arn:aws:iam::123456789012:oidc-provider/${PROV}`;
const arnOf = (p: string) => `arn:aws:iam::123456789012:oidc-provider/${p}`;
const trust = trustPolicy({ providerArn: PROV_ARN, oidcProvider: PROV, namespace: 'gloo-system', serviceAccounts: ['gloo', 'discovery'] });

test('checkTokenAgainstTrust: the right token passes', () => {
  assert.equal(checkTokenAgainstTrust(saClaims(`https://${PROV}`, 'gloo-system', 'gloo'), trust, arnOf), []);
});

test('checkTokenAgainstTrust: sub and aud mismatches are explained with both values', () => {
  const p = checkTokenAgainstTrust({ iss: `https://${PROV}`, sub: 'system:serviceaccount:other:gloo', aud: 'vault' }, trust, arnOf);
  assert.ok(p.some((x) => x.includes(`${PROV}:aud: the token has "vault"`) && x.includes('"sts.amazonaws.com"')), p.join('\n'));
  assert.ok(p.some((x) => x.includes(`${PROV}:sub: the token has "system:serviceaccount:other:gloo"`)), p.join('\n'));
});

test('checkTokenAgainstTrust: another issuer, and the guide\'s StringEqualsIfExists with empty aud', () => {
  const other = checkTokenAgainstTrust(saClaims('https://oidc.eks.us-east-1.amazonaws.com/id/XYZ', 'gloo-system', 'gloo'), trust, arnOf);
  assert.ok(other[0]!.includes('trusts federated principal'), other.join('\n'));
  const guide = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: PROV_ARN }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEqualsIfExists: { [`${PROV}:aud`]: '', [`${PROV}:sub`]: ['system:serviceaccount:gloo-system:gloo'] } } }] };
  const p = checkTokenAgainstTrust(saClaims(`https://${PROV}`, 'gloo-system', 'gloo'), guide, arnOf);
  assert.ok(p.some((x) => x.includes('passes when the key is missing')), p.join('\n'));
  assert.ok(p.some((x) => x.includes(':aud: the token has "sts.amazonaws.com"')), p.join('\n'));
});

test('diagnoseTrust: a role trusting another namespace', () => {
  const t = trustPolicy({ providerArn: PROV_ARN, oidcProvider: PROV, namespace: 'gloo', serviceAccounts: ['gloo', 'discovery'] });
  const f = diagnoseTrust('r', t, `https://${PROV}`, 'gloo-system', ['gloo', 'discovery'], arnOf)!;
  assert.ok(f.explanation.includes('gloo-system/gloo') && f.explanation.includes('gloo-system/discovery'), f.explanation);
  assert.is(diagnoseTrust('r', trust, `https://${PROV}`, 'gloo-system', ['gloo', 'discovery'], arnOf), undefined);
});

test('diagnoseProvider: missing, and without sts.amazonaws.com', () => {
  assert.ok(diagnoseProvider(PROV_ARN, undefined)!.title.includes('missing'));
  assert.ok(diagnoseProvider(PROV_ARN, { clientIds: ['other'] })!.title.includes('does not list sts.amazonaws.com'));
  assert.is(diagnoseProvider(PROV_ARN, { clientIds: ['sts.amazonaws.com'] }), undefined);
});

test('diagnoseServerId, diagnoseKv, diagnoseRoleBinding', () => {
  assert.ok(diagnoseServerId('aws', { iam_server_id_header_value: '' }, 'v')!.title.includes('no server-ID value'));
  assert.ok(diagnoseServerId('aws', { iam_server_id_header_value: 'x' }, 'v')!.explanation.includes('expected x but got v'));
  assert.is(diagnoseServerId('aws', { iam_server_id_header_value: 'v' }, 'v'), undefined);
  assert.ok(diagnoseKv('dev', { type: 'kv', options: { version: '1' } })!.title.includes('version 1'));
  assert.ok(diagnoseKv('dev', { type: 'kv', options: null }));
  assert.is(diagnoseKv('dev', { type: 'kv', options: { version: '2' } }), undefined);
  const rb = diagnoseRoleBinding('aws', 'dev-role', { bound_iam_principal_arn: ['arn:aws:iam::1:role/other'] }, 'arn:aws:iam::1:role/mine')!;
  assert.ok(rb.explanation.includes('arn:aws:iam::1:role/other') && rb.explanation.includes('arn:aws:iam::1:role/mine'));
  assert.is(diagnoseRoleBinding('aws', 'r', { bound_iam_principal_arn: ['arn:aws:iam::1:role/*'] }, 'arn:aws:iam::1:role/mine'), undefined);
});

test('explainLoginFailure: Vault\'s messages map to the cause', () => {
  const f = { mount: 'aws', role: 'r', serverIdSent: 'wrong', callerArn: 'arn:aws:sts::1:assumed-role/x/s', liveServerId: 'right', boundArns: ['arn:aws:iam::1:role/y'] };
  assert.match(explainLoginFailure('error validating X-Vault-AWS-IAM-Server-ID header: missing header "X-Vault-AWS-IAM-Server-ID"', f), /carried none/);
  assert.match(explainLoginFailure('error validating X-Vault-AWS-IAM-Server-ID header: expected "right" but got "wrong"', f), /differs from/);
  assert.match(explainLoginFailure('error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn\'t signed', f), /outside the signature/);
  assert.match(explainLoginFailure('IAM Principal "arn:aws:sts::1:assumed-role/x/s" does not belong to the role "r"', f), /bound to arn:aws:iam::1:role\/y/);
});

test.run();
