// Step 12's early token (prefetchToken): asked for at the start of an applying run and
// taken by link 1, so SA_TOKEN_COMMAND runs once; not in a dry run; one that failed early
// is asked for again by link 1, which reports its own failure. (A minter that logs its
// calls; AWS at a closed port, so the chain stops at link 2.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../lib/config.js';
import { makeCtx } from '../lib/run.js';
import { State } from '../lib/state.js';
import { prefetchToken, verifyChain } from '../lib/verify-chain.js';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const JWT = `${b64({ alg: 'none' })}.${b64({ iss: 'https://oidc.example/id/X', sub: 'system:serviceaccount:gloo-system:gloo', aud: 'sts.amazonaws.com' })}.sig`;

/** A minter that logs each call and prints a token, or fails while `fail` exists. */
function minter(): { cmd: string; calls: () => number; fail: (on: boolean) => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-minter-'));
  const log = path.join(dir, 'calls.log');
  const flag = path.join(dir, 'fail');
  const cmd = path.join(dir, 'mint');
  fs.writeFileSync(cmd, `#!/bin/sh\necho "$*" >> '${log}'\n[ -e '${flag}' ] && { echo "no such service account" >&2; exit 1; }\necho '${JWT}'\n`, { mode: 0o755 });
  return {
    cmd,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').length : 0),
    fail: (on) => (on ? fs.writeFileSync(flag, '') : fs.rmSync(flag, { force: true })),
  };
}

function ctxFor(cmd: string, mode: 'apply' | 'dry-run') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-chain-'));
  const { config } = parseConfig({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_MAX_ATTEMPTS: '1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-real-key', STATE_FILE: path.join(dir, 'state.json'), SA_TOKEN_COMMAND: cmd, VAULT_ADDR: 'http://127.0.0.1:1' });
  const state = new State(config.stateFile, config, false);
  state.set({ account: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/r' });
  return makeCtx(config, state, mode, true);
}

test('an applying run: the token asked for early is the one link 1 uses (one call)', async () => {
  const m = minter();
  const ctx = ctxFor(m.cmd, 'apply');
  await prefetchToken(ctx);
  const links = await verifyChain(ctx);
  assert.is(links[0]!.ok, true, links[0]!.detail);
  assert.is(m.calls(), 1);
  await verifyChain(ctx);
  assert.is(m.calls(), 2, 'a later chain makes its own token');
});

test('a dry run asks for no token early', async () => {
  const m = minter();
  await prefetchToken(ctxFor(m.cmd, 'dry-run'));
  assert.is(m.calls(), 0);
});

test('a token that could not be made early is asked for again by link 1, which reports its failure', async () => {
  const m = minter();
  const ctx = ctxFor(m.cmd, 'apply');
  m.fail(true);
  await prefetchToken(ctx).catch(() => undefined);
  m.fail(false);
  const ok = await verifyChain(ctx);
  assert.is(ok[0]!.ok, true, 'made again: it works now');
  assert.is(m.calls(), 2);
  const failing = ctxFor(m.cmd, 'apply');
  m.fail(true);
  await prefetchToken(failing).catch(() => undefined);
  const links = await verifyChain(failing);
  assert.is(links[0]!.ok, false);
  assert.match(links[0]!.detail, /no such service account/);
});

test.run();
