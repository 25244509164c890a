// The runbook scripts as a user runs them: exit codes, one-line errors, and
// print mode making no network call at all.
// run.ts lane: own (about 5 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, spawn } from 'node:child_process';
import { scriptArgs } from './helpers/script.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** A listener that counts connections: any call to "AWS" or "Vault" lands here. */
async function trap(): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, count: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'vir-home-')), NO_COLOR: '1' };
  return { ...env, STATE_FILE: path.join(env.HOME!, 'state.json'), ...extra };
}

async function runScript(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, scriptArgs(file, ...args), { cwd: root, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('PRINT=1 prints the step commands from configuration alone and makes no network call', async () => {
  const t = await trap();
  try {
    // all.ts prints steps 01-12 in one process; 13 is run on its own.
    for (const file of ['runbook/all.ts', 'runbook/13-troubleshoot.ts']) {
      const r = await runScript(file, [], cleanEnv({ PRINT: '1', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: t.url, VAULT_ADDR: t.url, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' }));
      assert.is(r.code, 0, `${file}: ${r.stderr}`);
      assert.ok(r.stdout.length > 100, file);
      if (file.endsWith('all.ts')) for (const id of ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']) assert.match(r.stdout, `== ${id} `);
    }
    assert.is(t.count(), 0, 'no connection was made');
    const r1 = await runScript('runbook/01-cluster-oidc.ts', ['--print'], cleanEnv({ AWS_REGION: 'us-east-1' }));
    const flat = (t: string) => t.replace(/ \\\n\s+/g, ' ');
    assert.match(flat(r1.stdout), 'ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text) && export ACCOUNT_ID');
    assert.match(flat(r1.stdout), 'eksctl utils associate-iam-oidc-provider --cluster gloo-ee-vault-integration --region us-east-1 --approve');
    const r2 = await runScript('runbook/02-iam-role.ts', ['--print'], cleanEnv({ AWS_REGION: 'us-east-1' }));
    assert.match(r2.stdout, '"Federated": "arn:aws:iam::${ACCOUNT_ID}:oidc-provider/${OIDC_PROVIDER}"');
    assert.match(r2.stdout, '"${OIDC_PROVIDER}:aud": "sts.amazonaws.com"');
  } finally {
    await t.close();
  }
});

const badInputs: [string, Record<string, string>, RegExp][] = [
  ['missing AWS_REGION', {}, /^error: AWS_REGION is not set: export AWS_REGION=us-east-1/],
  ['region us-east-x', { AWS_REGION: 'us-east-x' }, /^error: AWS_REGION "us-east-x" is not an AWS region/],
  ['70-character role name', { AWS_REGION: 'us-east-1', VAULT_AUTH_ROLE_NAME: 'r'.repeat(70) }, /^error: VAULT_AUTH_ROLE_NAME "r+" is 70 characters; IAM role names are at most 64/],
  ['namespace with capitals', { AWS_REGION: 'us-east-1', NAMESPACE: 'Gloo' }, /^error: NAMESPACE "Gloo" is not a valid Kubernetes namespace/],
  ['malformed endpoint', { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'localhost:4566' }, /^error: AWS_ENDPOINT_URL "localhost:4566" must start with http:\/\/ or https:\/\//],
  ['unknown option', { AWS_REGION: 'us-east-1' }, /^error: unknown option "--frobnicate"/],
];

for (const [name, env, expected] of badInputs) {
  test(`bad input, ${name}: one line, exit 2, no call made`, async () => {
    const t = await trap();
    try {
      const args = name === 'unknown option' ? ['--frobnicate'] : [];
      const r = await runScript('runbook/01-cluster-oidc.ts', args, cleanEnv({ ...(env.AWS_ENDPOINT_URL ? {} : { AWS_ENDPOINT_URL: t.url }), VAULT_ADDR: t.url, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', ...env }));
      assert.is(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.is(lines.length, 1, r.stderr);
      assert.match(lines[0]!, expected);
      assert.is(t.count(), 0);
    } finally {
      await t.close();
    }
  });
}

test('an unreachable AWS endpoint is one sentence naming AWS_ENDPOINT_URL, exit 4', async () => {
  const t = await trap();
  await t.close(); // now a closed port
  const r = await runScript('runbook/01-cluster-oidc.ts', [], cleanEnv({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: t.url, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' }));
  assert.is(r.code, 4, r.stderr);
  assert.match(r.stderr, /does not answer \(ECONNREFUSED\).*check AWS_ENDPOINT_URL/);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace for an expected failure');
});

test('a step whose input must be recovered from an unreachable AWS says so in one sentence (exit 4)', async () => {
  // Missing state is recovered from live AWS first; only when AWS answers that the input
  // does not exist is the earlier step named (exit 3: test/integration/01-03-aws.test.ts).
  const t = await trap();
  try {
    const r = await runScript('runbook/02-iam-role.ts', [], cleanEnv({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: t.url, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' }));
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /check AWS_ENDPOINT_URL/);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace for an expected failure');
  } finally {
    await t.close();
  }
});

test('`make step-01 PRINT=1` goes through make and still makes no network call', async () => {
  const t = await trap();
  try {
    const env = cleanEnv({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: t.url, VAULT_ADDR: t.url });
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      const p = spawn('make', ['-s', 'step-01', 'PRINT=1'], { cwd: root, env });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      p.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
    assert.is(r.code, 0, r.out);
    assert.match(r.out, '== 01 Cluster OIDC provider');
    assert.match(r.out, 'aws iam create-open-id-connect-provider');
    assert.is(t.count(), 0);
  } finally {
    await t.close();
  }
});

test('make help lists the targets', () => {
  const r = spawnSync('make', ['-s', 'help'], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0);
  for (const t of ['lab ', 'test ', 'all ', 'plan ', 'verify ', 'teardown ', 'lab-up ', 'lab-down ', 'bench ', 'reference ', 'step-NN']) assert.match(r.stdout, t);
});

test.run();
