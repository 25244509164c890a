import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../lib/config.js';
import { tokenCommand, webIdentityToken } from '../lib/web-identity.js';
import { RemoteError } from '../lib/errors.js';
import { redact } from '../lib/redact.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-wi-'));
function script(name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
const cfg = (env: Record<string, string>) => parseConfig({ AWS_REGION: 'us-east-1', ...env }).config;

test('unset: kubectl create token with the STS audience', () => {
  assert.equal(tokenCommand(cfg({}), 'gloo-system', 'gloo'), ['kubectl', 'create', 'token', 'gloo', '-n', 'gloo-system', '--audience', 'sts.amazonaws.com']);
});

test('SA_TOKEN_COMMAND runs as <command> <namespace> <sa> with CLUSTER_NAME, and the token is a secret', async () => {
  const cmd = script('ok', '[ "$CLUSTER_NAME" = "c-one" ] || exit 3\necho "eyJh.$1-$2.sig"');
  const t = await webIdentityToken(cfg({ SA_TOKEN_COMMAND: cmd, CLUSTER_NAME: 'c-one' }), 'ns1', 'sa1');
  assert.is(t.jwt, 'eyJh.ns1-sa1.sig');
  assert.is(t.source, 'SA_TOKEN_COMMAND (ok)');
  assert.not.ok(redact(`token ${t.jwt}`).includes(t.jwt), 'the token is masked in anything printed');
});

test('a command that prints something else is refused in one sentence, without echoing it', async () => {
  const cmd = script('junk', 'echo "not-a-token s3cr3t"');
  const err = await webIdentityToken(cfg({ SA_TOKEN_COMMAND: cmd }), 'ns1', 'sa1').catch((e: unknown) => e);
  assert.instance(err, RemoteError);
  assert.match((err as Error).message, /^SA_TOKEN_COMMAND \(.*junk\) printed no JWT for ns1\/sa1: it must print only the token on stdout$/);
  assert.not.ok((err as Error).message.includes('s3cr3t'));
});

test('a failing or missing command names itself and its first error line', async () => {
  const cmd = script('fails', 'echo "cluster nope is not in the lab" >&2; exit 1');
  const err = await webIdentityToken(cfg({ SA_TOKEN_COMMAND: cmd }), 'ns1', 'sa1').catch((e: unknown) => e);
  assert.match((err as Error).message, /could not make a token for ns1\/sa1: cluster nope is not in the lab/);
  const missing = await webIdentityToken(cfg({ SA_TOKEN_COMMAND: path.join(dir, 'absent') }), 'ns1', 'sa1').catch((e: unknown) => e);
  assert.instance(missing, RemoteError);
  assert.match((missing as Error).message, /^SA_TOKEN_COMMAND \(.*absent\) could not make a token for ns1\/sa1: not found$/);
});

test.run();
