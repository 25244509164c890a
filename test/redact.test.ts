import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from 'zx';
import { addSecret, redact, clearSecretsForTest, MASK } from '../lib/redact.js';
import { captureOutput, line, action, block } from '../lib/log.js';
import { installZxRedaction } from '../lib/zx.js';
import { formatError, ConfigError } from '../lib/errors.js';

test('a registered secret never appears in what the logger prints', () => {
  clearSecretsForTest();
  const secret = 'hvs.CAESIJ' + 'x'.repeat(24);
  const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  addSecret(secret);
  addSecret(awsSecret);
  const out: string[] = [];
  const restore = captureOutput((l) => out.push(l));
  line(`token is ${secret}`);
  action('created', `thing with ${awsSecret}`);
  block(`export VAULT_TOKEN=${secret}`);
  restore();
  const text = out.join('\n');
  assert.not.match(text, secret);
  assert.not.match(text, awsSecret);
  assert.ok(text.includes(MASK));
});

// Built at run time so a credential scanner does not mistake the fixtures for real ones.
const FAKE_VAULT = `hvs.${'ABCDEFGHIJKL'.repeat(2)}`;
const FAKE_KEY_ID = `AKIA${'ABCDEFGH'.repeat(2)}`;

test('well-known secret shapes are masked even when not registered', () => {
  clearSecretsForTest();
  const t = redact(`VAULT_TOKEN=s3cr3tvalue123 and ${FAKE_VAULT} and ${FAKE_KEY_ID}`);
  assert.not.match(t, 's3cr3tvalue123');
  assert.not.match(t, FAKE_VAULT);
  assert.not.match(t, FAKE_KEY_ID);
  assert.match(t, 'VAULT_TOKEN=****');
});

test('JSON fields named like secrets are masked', () => {
  clearSecretsForTest();
  const t = redact('{"client_token":"abc.def.ghi","sessionToken":"FwoGZXIvYXdzE","name":"kept"}');
  assert.not.match(t, 'abc.def.ghi');
  assert.not.match(t, 'FwoGZXIvYXdzE');
  assert.match(t, '"name":"kept"');
});

test('a token inside a zx command never appears in zx output', async () => {
  clearSecretsForTest();
  const secret = `hvs.${'zxCommandSecret'.repeat(2)}`;
  addSecret(secret);
  installZxRedaction();
  const chunks: string[] = [];
  const origWrite = process.stderr.write.bind(process.stderr);
  (process.stderr as unknown as { write: (c: string | Uint8Array) => boolean }).write = (c) => {
    chunks.push(String(c));
    return true;
  };
  try {
    await $({ verbose: true })`echo ${secret}`;
  } finally {
    (process.stderr as unknown as { write: typeof origWrite }).write = origWrite;
  }
  const text = chunks.join('');
  assert.ok(text.length > 0, 'zx printed its command echo');
  assert.not.match(text, secret);
  assert.match(text, MASK);
});

test('expected errors are one sentence; bugs carry the stack and ask for a report', () => {
  const expected = formatError(new ConfigError('AWS_REGION is not set: export AWS_REGION=us-east-1'));
  assert.is(expected.exitCode, 2);
  assert.is(expected.text, 'error: AWS_REGION is not set: export AWS_REGION=us-east-1');
  const bug = formatError(new TypeError('x is undefined'));
  assert.is(bug.exitCode, 70);
  assert.match(bug.text, /this is a bug in vault-irsa-runbook, please report it/);
  assert.match(bug.text, /TypeError: x is undefined\n\s+at /);
});

test.run();
