// Reliability in the lab, bad input: the real scripts (as users run them: the bundle in dist/,
// test/helpers/script.ts; a clean environment), one case a row. Each must end with a
// clear sentence on stderr, a documented exit code (README "Exit codes") and no
// stack trace — and create nothing, in moto or in Vault.
//
// Cases that exist already and are not repeated here:
//   test/cli.test.ts — missing AWS_REGION, AWS_REGION "us-east-x", a 70-character role
//     name, a namespace with capitals, AWS_ENDPOINT_URL without a scheme, an unknown
//     option, an unreachable AWS endpoint (exit 4), a step run before the one it needs (exit 3);
//   test/integration/01-03-aws.test.ts — an EKS cluster that does not exist, a malformed
//     OIDC issuer from the cluster, VAULT_AUTH_ROLE_ARN in another account;
//   test/integration/04-09-vault.test.ts — Vault token and address errors of steps 05-09.
// run.ts lane: alone (about 20 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ListOpenIDConnectProvidersCommand, ListPoliciesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { lab } from '../helpers/lab.js';
import { ensureSharedProvider, iamClient, registerCluster, vapi } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLUSTER = 'vir-t21';
let closedPort = '';
let home = '';

/** A loopback port nobody listens on. */
async function freePort(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return String(port);
}

/** Only what a user would set: the lab's addresses and keys, names of this file's own. */
function baseEnv(): Record<string, string> {
  const l = lab();
  return {
    AWS_REGION: l.region,
    AWS_ENDPOINT_URL: l.awsEndpoint,
    AWS_ACCESS_KEY_ID: l.accessKeyId,
    AWS_SECRET_ACCESS_KEY: l.secretAccessKey,
    VAULT_ADDR: l.vaultAddr,
    VAULT_TOKEN: l.vaultToken,
    VAULT_AWS_ENDPOINT_URL: l.stsProxyUrl,
    CLUSTER_NAME: CLUSTER,
    VAULT_AUTH_MOUNT: 'aws-t21',
    VAULT_KV_MOUNT: 'kv-t21',
    VAULT_POLICY_NAME: 'pol-t21',
    VAULT_SERVER_ROLE_NAME: lab().vaultServerRoleArn.split('/').pop()!,
    VAULT_SERVER_POLICY_NAME: lab().vaultServerRoleArn.split('/').pop()!,
  };
}

function runScript(file: string, env: Record<string, string | undefined>, args: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', AWS_EC2_METADATA_DISABLED: 'true', STATE_FILE: path.join(home, 'state.json') };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete clean[k];
      else clean[k] = v;
    }
    const p = spawn(process.execPath, scriptArgs(path.join('runbook', file), ...args), { cwd: root, env: clean });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function snapshot(): Promise<string> {
  const iam = iamClient();
  const roles = ((await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? []).map((r) => r.RoleName!);
  const policies = ((await iam.send(new ListPoliciesCommand({ Scope: 'Local', MaxItems: 1000 }))).Policies ?? []).map((p) => p.PolicyName!);
  const providers = ((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? []).map((p) => p.Arn!);
  const auth = Object.keys((await vapi('GET', 'sys/auth'))!.data as object);
  const mounts = Object.keys((await vapi('GET', 'sys/mounts'))!.data as object);
  const vpol = ((await vapi('LIST', 'sys/policies/acl'))!.data.keys as string[]) ?? [];
  const mine = (xs: string[]) => xs.filter((x) => /t21/.test(x)).sort();
  return JSON.stringify({ roles: mine(roles), policies: mine(policies), providers: providers.length, auth: mine(auth), mounts: mine(mounts), vpol: mine(vpol) });
}

interface Case {
  name: string;
  script: string;
  env: () => Record<string, string | undefined>;
  /** Files to write before the run (path relative to the case's HOME). */
  files?: () => Record<string, string>;
  code: number;
  message: RegExp;
  /** More than one problem: each on its own line (README: "every problem is listed, one line each"). */
  lines?: number;
}

const otherClusterState = (): string => {
  const l = lab();
  const key = `endpoint=${l.awsEndpoint}|${l.region}|some-other-cluster`;
  return JSON.stringify({ version: 1, contexts: { [key]: { cluster: 'some-other-cluster', target: key, updatedAt: new Date().toISOString(), values: { account: l.accountId, partition: 'aws', issuer: 'https://oidc.example.com/id/OTHER', oidcProvider: 'oidc.example.com/id/OTHER', providerArn: `arn:aws:iam::${l.accountId}:oidc-provider/oidc.example.com/id/OTHER`, roleArn: `arn:aws:iam::${l.accountId}:role/dev-role-iam-some-other-cluster` } } } });
};

const cases: Case[] = [
  // ---- variables missing or malformed: exit 2, no call made
  { name: 'CLUSTER_NAME with a space', script: '01-cluster-oidc.ts', env: () => ({ CLUSTER_NAME: 'my cluster' }), code: 2, lines: 3, message: /^error: CLUSTER_NAME "my cluster" is not a valid EKS cluster name.*\nerror: VAULT_AUTH_ROLE_NAME "dev-role-iam-my cluster" has characters IAM does not allow/ },
  { name: 'VAULT_AUTH_ROLE_ARN not an ARN', script: '01-cluster-oidc.ts', env: () => ({ VAULT_AUTH_ROLE_ARN: 'dev-role-iam' }), code: 2, message: /^error: VAULT_AUTH_ROLE_ARN "dev-role-iam" is not an IAM role ARN like arn:aws:iam::123456789012:role\/NAME/ },
  { name: 'AWS_MAX_ATTEMPTS 0', script: '01-cluster-oidc.ts', env: () => ({ AWS_MAX_ATTEMPTS: '0' }), code: 2, message: /^error: AWS_MAX_ATTEMPTS "0" must be a whole number from 1 to 20/ },
  { name: 'AWS_MAX_ATTEMPTS not a number', script: '01-cluster-oidc.ts', env: () => ({ AWS_MAX_ATTEMPTS: 'many' }), code: 2, message: /^error: AWS_MAX_ATTEMPTS "many" must be a whole number from 1 to 20/ },
  { name: 'VAULT_ADDR without a scheme', script: '05-enable-aws-auth.ts', env: () => ({ VAULT_ADDR: 'vault:8200' }), code: 2, message: /^error: VAULT_ADDR "vault:8200" must start with http:\/\/ or https:\/\// },
  { name: 'OIDC_ISSUER over http', script: '01-cluster-oidc.ts', env: () => ({ OIDC_ISSUER: 'http://oidc.example.com/id/X' }), code: 2, message: /^error: OIDC_ISSUER "http:\/\/oidc\.example\.com\/id\/X" must be an https:\/\/ URL/ },
  { name: 'OIDC_ISSUER with a port', script: '01-cluster-oidc.ts', env: () => ({ OIDC_ISSUER: 'https://oidc.example.com:8443/id/X' }), code: 2, message: /^error: OIDC_ISSUER "https:\/\/oidc\.example\.com:8443\/id\/X" has a port/ },
  { name: 'EDGE_VERSION without Vault token renewal', script: '10-gloo-values.ts', env: () => ({ EDGE_VERSION: 'v1.15.18' }), code: 2, message: /^error: EDGE_VERSION v1\.15\.18 has no Vault token renewal, so Gloo would lose Vault access when its token's 24h max TTL ends: set EDGE_VERSION to v1\.16\.x/ },
  { name: 'GLOO_EDITION unknown', script: '10-gloo-values.ts', env: () => ({ GLOO_EDITION: 'premium' }), code: 2, message: /^error: GLOO_EDITION "premium" is not one of oss, enterprise/ },
  { name: 'VAULT_SERVER_IDENTITY unknown', script: '03-iam-policy.ts', env: () => ({ VAULT_SERVER_IDENTITY: 'instance' }), code: 2, message: /^error: VAULT_SERVER_IDENTITY "instance" is not one of role, node/ },
  { name: 'VAULT_KV_MOUNT with a slash', script: '06-enable-kv.ts', env: () => ({ VAULT_KV_MOUNT: 'secret/dev' }), code: 2, message: /^error: VAULT_KV_MOUNT "secret\/dev" is not a plain Vault mount name/ },
  { name: 'IAM_SERVER_ID_HEADER_VALUE with a space', script: '08-aws-auth-config.ts', env: () => ({ IAM_SERVER_ID_HEADER_VALUE: 'vault gloo' }), code: 2, message: /^error: IAM_SERVER_ID_HEADER_VALUE "vault gloo" must be printable ASCII without spaces/ },
  { name: 'GLOO_SERVICE_ACCOUNTS empty', script: '02-iam-role.ts', env: () => ({ GLOO_SERVICE_ACCOUNTS: ' , ' }), code: 2, message: /^error: GLOO_SERVICE_ACCOUNTS is empty: list at least one service account/ },
  { name: 'VAULT_AUTH_POLICY_NAME of 130 characters', script: '03-iam-policy.ts', env: () => ({ VAULT_AUTH_POLICY_NAME: 'p'.repeat(130) }), code: 2, message: /^error: VAULT_AUTH_POLICY_NAME "p+" is 130 characters; IAM policy names are at most 128/ },
  // ---- ARNs of the wrong account, partition or name (after sts:GetCallerIdentity, before any write)
  { name: 'VAULT_AUTH_ROLE_ARN in another partition', script: '01-cluster-oidc.ts', env: () => ({ VAULT_AUTH_ROLE_ARN: `arn:aws-us-gov:iam::${lab().accountId}:role/dev-role-iam-${CLUSTER}` }), code: 2, message: /^error: VAULT_AUTH_ROLE_ARN is in partition aws-us-gov, but AWS_REGION us-east-1 is in aws: fix one of them/ },
  { name: 'VAULT_AUTH_ROLE_ARN naming another role', script: '01-cluster-oidc.ts', env: () => ({ VAULT_AUTH_ROLE_ARN: `arn:aws:iam::${lab().accountId}:role/someone-else` }), code: 2, message: new RegExp(`^error: VAULT_AUTH_ROLE_ARN names role someone-else, but VAULT_AUTH_ROLE_NAME is dev-role-iam-${CLUSTER}: make them agree`) },
  // ---- an unknown region, well-formed so only AWS can tell (real AWS: no such host; moto: HTTP 500)
  { name: 'an unknown region (us-north-9)', script: '01-cluster-oidc.ts', env: () => ({ AWS_REGION: 'us-north-9', AWS_MAX_ATTEMPTS: '1' }), code: 4, message: /^error: AWS endpoint http:\/\/127\.0\.0\.1:\d+ answered eks:DescribeCluster with something that is not an AWS response \(HTTP 500\): check that AWS_ENDPOINT_URL is AWS or its emulator, and AWS_REGION us-north-9/ },
  { name: 'a region without the cluster (eu-west-2)', script: '01-cluster-oidc.ts', env: () => ({ AWS_REGION: 'eu-west-2' }), code: 2, message: new RegExp(`^error: EKS cluster "${CLUSTER}" was not found in eu-west-2: check CLUSTER_NAME and AWS_REGION`) },
  // ---- unreachable or wrong endpoints
  { name: 'VAULT_ADDR on a closed port', script: '05-enable-aws-auth.ts', env: () => ({ VAULT_ADDR: `http://127.0.0.1:${closedPort}` }), code: 4, message: /^error: Vault at VAULT_ADDR=http:\/\/127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): start it/ },
  { name: 'AWS_ENDPOINT_URL pointing at Vault (not AWS)', script: '01-cluster-oidc.ts', env: () => ({ AWS_ENDPOINT_URL: lab().vaultAddr, AWS_MAX_ATTEMPTS: '1' }), code: 4, message: /^error: AWS endpoint http:\/\/127\.0\.0\.1:\d+ answered sts:GetCallerIdentity with something that is not an AWS response \(HTTP 307\): check that AWS_ENDPOINT_URL is AWS/ },
  { name: 'VAULT_ADDR pointing at moto (not Vault)', script: '05-enable-aws-auth.ts', env: () => ({ VAULT_ADDR: lab().awsEndpoint }), code: 4, message: /^error: the server at VAULT_ADDR=http:\/\/127\.0\.0\.1:\d+ is not Vault \(sys\/health answered without Vault's status\): set VAULT_ADDR to your Vault/ },
  // ---- wrong or missing credentials and tokens
  { name: 'no AWS credentials at all', script: '01-cluster-oidc.ts', env: () => ({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }), code: 2, message: /^error: no AWS credentials were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/ },
  { name: 'an AWS_PROFILE that does not exist', script: '01-cluster-oidc.ts', env: () => ({ AWS_PROFILE: 'nosuchprofile', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }), code: 2, message: /^error: no AWS credentials were found for AWS_PROFILE=nosuchprofile/ },
  { name: 'VAULT_TOKEN missing', script: '05-enable-aws-auth.ts', env: () => ({ VAULT_TOKEN: undefined }), code: 2, message: /^error: VAULT_TOKEN is not set/ },
  { name: 'VAULT_TOKEN wrong', script: '05-enable-aws-auth.ts', env: () => ({ VAULT_TOKEN: `hvs.${'notarealtoken'.repeat(2)}` }), code: 2, message: /^error: Vault at http:\/\/127\.0\.0\.1:\d+ rejected VAULT_TOKEN \(permission denied on / },
  // ---- state files
  { name: 'a state file from another cluster', script: '03-iam-policy.ts', files: () => ({ 'state.json': otherClusterState() }), env: () => ({}), code: 3, message: /^error: step 03 \(.*\) needs roleArn, which step 02 produces: run `make step-02` first/ }, // account and provider are recovered from live AWS first
  { name: 'a corrupted state file', script: '02-iam-role.ts', files: () => ({ 'state.json': '{"version": 1, "contexts": {' }), env: () => ({}), code: 2, message: /^error: the state file .*state\.json is not valid JSON: move it aside/ },
  { name: 'a state file of another program', script: '02-iam-role.ts', files: () => ({ 'state.json': JSON.stringify({ version: 3, resources: [] }) }), env: () => ({}), code: 2, message: /^error: the state file .*state\.json is not a vault-irsa-runbook state file \(version 1\)/ },
];

test.before(async () => {
  registerCluster(CLUSTER);
  // "A state file from another cluster" recovers the account and the OIDC provider from live
  // AWS: the provider exists, as it does once any step 01 ran for the lab's issuer. Made here
  // so this file does not depend on which files ran before it.
  await ensureSharedProvider(CLUSTER);
  closedPort = await freePort();
});

for (const c of cases) {
  test(`bad input, ${c.name}: ${c.script} exits ${c.code} with one sentence, creates nothing`, async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-t21-'));
    const files = c.files?.() ?? {};
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(home, f), text, { mode: 0o600 });
    const before = await snapshot();
    const r = await runScript(c.script, { ...baseEnv(), ...c.env() });
    const err = r.stderr.trim();
    assert.is(r.code, c.code, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(err, c.message, err);
    assert.is(err.split('\n').length, c.lines ?? 1, `one line per problem:\n${err}`);
    assert.ok(err.split('\n').every((l) => l.startsWith('error: ')), err);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
    assert.not.match(r.stderr, /internal error/);
    assert.is(await snapshot(), before, 'nothing created in moto or Vault');
    // A state file the run could not use is left exactly as it was.
    for (const [f, text] of Object.entries(files)) {
      const now = fs.readFileSync(path.join(home, f), 'utf8');
      if (c.name === 'a state file from another cluster') {
        // Usable, but for another cluster: that cluster's record is left exactly as it was;
        // this run may only add what it recovered from live AWS (account, provider) for its own.
        const other = (t: string) => Object.entries((JSON.parse(t) as { contexts: Record<string, unknown> }).contexts).filter(([k]) => k.endsWith('|some-other-cluster'));
        assert.equal(other(now), other(text), `${f}: the other cluster's record untouched`);
      } else assert.is(now, text, `${f} untouched`);
    }
    fs.rmSync(home, { recursive: true, force: true });
  });
}

test.run();
