// lib/gloo-pods.ts against a kubectl stand-in on PATH that logs its calls: the running
// pods of every service account come from one kubectl and are judged per account, and a
// rollout restart refused as "within the past second" is asked again once, a second later.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../lib/config.js';
import { podIdentityProblems, rolloutRestart } from '../lib/gloo-pods.js';

const ROLE = 'arn:aws:iam::123456789012:role/dev-role';
const { config } = parseConfig({ AWS_REGION: 'us-east-1', NAMESPACE: 'gloo-system' });

/** A kubectl that logs its arguments and runs `script` (sh) with them. */
function fakeKubectl(script: string): { calls: () => string[]; restore: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-gloo-pods-'));
  const log = path.join(dir, 'calls');
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh\necho "$*" >> '${log}'\n${script}\n`, { mode: 0o755 });
  const was = process.env.PATH;
  process.env.PATH = `${dir}${path.delimiter}${was}`;
  return {
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []),
    restore: () => {
      process.env.PATH = was;
    },
  };
}

const pod = (name: string, sa: string, role?: string, phase = 'Running') => ({
  metadata: { name, labels: { gloo: sa } },
  status: { phase },
  spec: { containers: [{ env: role ? [{ name: 'AWS_ROLE_ARN', value: role }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }] : [] }] },
});

test('one kubectl lists the pods of both service accounts; each is judged on its own pods', async () => {
  const list = { items: [pod('gloo-1', 'gloo', ROLE), pod('discovery-1', 'discovery', 'arn:aws:iam::123456789012:role/old'), pod('discovery-0', 'discovery', undefined, 'Pending')] };
  const sa = { metadata: { name: 'discovery', annotations: { 'eks.amazonaws.com/role-arn': ROLE } } };
  const k = fakeKubectl(`case "$2" in pods) echo '${JSON.stringify(list)}';; serviceaccount) echo '${JSON.stringify(sa)}';; esac`);
  try {
    const r = await podIdentityProblems(config, ROLE, ['gloo', 'discovery']);
    assert.equal(k.calls(), ['get pods -n gloo-system -l gloo in (gloo,discovery) -o json', 'get serviceaccount discovery -n gloo-system -o json']);
    assert.is(r.pods, 2, 'running pods only');
    assert.equal(r.stale, ['discovery']);
    assert.equal(r.running.map((p) => p.name), ['gloo-1', 'discovery-1']);
    assert.is(r.problems.length, 1);
    assert.match(r.problems[0]!, /^1 of 1 running discovery pod\(s\) in gloo-system run without AWS_ROLE_ARN=.*: they were created before service account gloo-system\/discovery got the role/);
  } finally {
    k.restore();
  }
});

test('a service account with no running pod is named', async () => {
  const k = fakeKubectl(`echo '${JSON.stringify({ items: [pod('gloo-1', 'gloo', ROLE)] })}'`);
  try {
    const r = await podIdentityProblems(config, ROLE, ['gloo', 'discovery']);
    assert.equal(r.problems, ['no running pod with label gloo=discovery in gloo-system']);
  } finally {
    k.restore();
  }
});

test('rolloutRestart asks again, once, a second later when kubectl refuses a restart within the same second', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-restart-'));
  const k = fakeKubectl(`if [ ! -e '${dir}/once' ]; then touch '${dir}/once'; echo 'error: failed to create patch for gloo: if restart has already been triggered within the past second, please wait before attempting to trigger another' >&2; exit 1; fi\necho 'deployment.apps/gloo restarted'`);
  const waits: number[] = [];
  try {
    await rolloutRestart(config, ['gloo'], async (ms) => { waits.push(ms); });
    assert.equal(k.calls(), ['rollout restart deployment/gloo -n gloo-system', 'rollout restart deployment/gloo -n gloo-system']);
    assert.ok(waits.length === 1 && waits[0]! >= 1000, `waited ${JSON.stringify(waits)}`);
  } finally {
    k.restore();
  }
});

test('rolloutRestart does not retry any other failure', async () => {
  const k = fakeKubectl(`echo 'Error from server (NotFound): deployments.apps "gloo" not found' >&2; exit 1`);
  try {
    const err = await rolloutRestart(config, ['gloo'], async () => undefined).catch((e: unknown) => e);
    assert.match((err as Error).message, /deployments.apps "gloo" not found/);
    assert.is(k.calls().length, 1);
  } finally {
    k.restore();
  }
});

test.run();
