import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IAMClient, AttachRolePolicyCommand } from '@aws-sdk/client-iam';
import { backoffMs, sendUntilFound, untilVisible, vaultArnNotYetVisible, type RetryClock } from '../lib/eventual.js';
import { RemoteError, ExitCode } from '../lib/errors.js';
import { parseConfig } from '../lib/config.js';

/** A clock that only moves when the code under test sleeps. */
function fakeClock(): RetryClock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return { slept, now: () => t, sleep: async (ms) => { slept.push(ms); t += ms; } };
}

const base = { what: 'IAM role r1', why: 'IAM is eventually consistent', service: 'iam', action: 'GetRole', fix: 'run the step again' };

test('backoff: 0.5 s doubling, capped at 4 s', () => {
  assert.equal([0, 1, 2, 3, 4, 5].map(backoffMs), [500, 1000, 2000, 4000, 4000, 4000]);
});

test('not visible once, then visible: one wait, shown with its reason', async () => {
  const clock = fakeClock();
  const said: string[] = [];
  const answers = [undefined, 'role'];
  const v = await untilVisible(async () => answers.shift(), { ...base, clock, say: (t) => said.push(t) });
  assert.is(v, 'role');
  assert.equal(clock.slept, [500]);
  assert.match(said[0]!, /waiting up to 30 s for IAM role r1 to appear \(IAM is eventually consistent\)/);
  assert.match(said[1]!, /IAM role r1 is visible after 0\.5 s/);
});

test('visible at once: no wait, nothing said', async () => {
  const clock = fakeClock();
  const said: string[] = [];
  assert.is(await untilVisible(async () => 1, { ...base, clock, say: (t) => said.push(t) }), 1);
  assert.equal(clock.slept, []);
  assert.equal(said, []);
});

test('never visible: gives up after the bound with one sentence naming what did not appear', async () => {
  const clock = fakeClock();
  let calls = 0;
  try {
    await untilVisible(async () => { calls++; return undefined; }, { ...base, clock, say: () => undefined });
    assert.unreachable('should give up');
  } catch (err) {
    assert.instance(err, RemoteError);
    assert.is((err as RemoteError).exitCode, ExitCode.remote);
    assert.is((err as Error).message, 'IAM role r1 did not appear within 30 s (NoSuchEntity): run the step again');
  }
  assert.is(clock.slept.reduce((a, b) => a + b, 0), 30_000, 'waits exactly the bound');
  assert.ok(calls >= 8 && calls <= 12, `a handful of attempts, not a spin (${calls})`);
});

test('transient errors are waited out; others are thrown at once', async () => {
  const clock = fakeClock();
  const notYet = new Error('Vault POST auth/aws/role/r failed (HTTP 400): unable to resolve ARN "arn:aws:iam::123456789012:role/r" to internal ID: NoSuchEntity: The role with name r cannot be found.');
  let n = 0;
  const v = await untilVisible(async () => { if (n++ < 2) throw notYet; return true; }, { ...base, clock, say: () => undefined, transient: vaultArnNotYetVisible });
  assert.is(v, true);
  assert.equal(clock.slept, [500, 1000]);
  const denied = new Error('unable to resolve ARN "arn:aws:iam::1:role/r" to internal ID: AccessDenied: User: x is not authorized to perform: iam:GetRole');
  n = 0;
  try {
    await untilVisible(async () => { n++; throw denied; }, { ...base, clock: fakeClock(), transient: vaultArnNotYetVisible });
    assert.unreachable();
  } catch (err) {
    assert.is(err, denied);
    assert.is(n, 1, 'a denial is not retried');
  }
});

test('sendUntilFound: a NoSuchEntity from IAM, then success', async () => {
  const { config } = parseConfig({ AWS_REGION: 'us-east-1' });
  const client = new IAMClient({ region: 'us-east-1', credentials: { accessKeyId: 'AKIAxxxxxxxxxxxxxxxx', secretAccessKey: 'x' } });
  let calls = 0;
  (client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async () => {
    calls++;
    if (calls === 1) throw Object.assign(new Error('The role with name r1 cannot be found.'), { name: 'NoSuchEntity' });
    return { $metadata: { httpStatusCode: 200 } };
  };
  const clock = fakeClock();
  const said: string[] = [];
  const out = await sendUntilFound(config, client, new AttachRolePolicyCommand({ RoleName: 'r1', PolicyArn: 'arn:aws:iam::123456789012:policy/p' }), 'IAM role r1', 'run it again', { clock, say: (t) => said.push(t) });
  assert.equal(out, { $metadata: { httpStatusCode: 200 } });
  assert.is(calls, 2);
  assert.match(said[0]!, /waiting up to 30 s for IAM role r1 to appear \(IAM is eventually consistent/);
});

test('sendUntilFound: other IAM errors are not retried', async () => {
  const { config } = parseConfig({ AWS_REGION: 'us-east-1' });
  const client = new IAMClient({ region: 'us-east-1' });
  (client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async () => {
    throw Object.assign(new Error('nope'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  };
  try {
    await sendUntilFound(config, client, new AttachRolePolicyCommand({ RoleName: 'r1', PolicyArn: 'p' }), 'IAM role r1', 'x', { clock: fakeClock() });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /AWS denied iam:AttachRolePolicy/);
  }
});

test('vaultArnNotYetVisible: only the not-found form of "unable to resolve ARN"', () => {
  assert.ok(vaultArnNotYetVisible(new Error('unable to resolve ARN "a" to internal ID: NoSuchEntity: The role with name r cannot be found.')));
  assert.not.ok(vaultArnNotYetVisible(new Error('unable to resolve ARN "a" to internal ID: AccessDenied: not authorized to perform: iam:GetRole')));
  assert.not.ok(vaultArnNotYetVisible(new Error('permission denied')));
  assert.not.ok(vaultArnNotYetVisible(undefined));
});

test.run();
