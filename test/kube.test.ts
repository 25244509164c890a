// lib/kube.ts: kubectl >= 1.24 for `kubectl create token` (one version parser, and
// the check where the runbook asks kubectl for a token: a fake kubectl on PATH, no cluster).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kubectlCreateTokenProblem, parseKubectlClientVersion } from '../lib/kube.js';
import { parseConfig } from '../lib/config.js';
import { webIdentityToken } from '../lib/web-identity.js';
import { RemoteError } from '../lib/errors.js';

const client = (major: string, minor: string, gitVersion: string) => JSON.stringify({ clientVersion: { major, minor, gitVersion, platform: 'linux/amd64' }, kustomizeVersion: 'v5.0.4' });

test('parses the client version, vendor "+" minors and a gitVersion-only answer', () => {
  assert.equal(parseKubectlClientVersion(client('1', '29', 'v1.29.1')), { major: 1, minor: 29, gitVersion: 'v1.29.1' });
  assert.equal(parseKubectlClientVersion(client('1', '24+', 'v1.24.17-eks-5e0fdde')), { major: 1, minor: 24, gitVersion: 'v1.24.17-eks-5e0fdde' });
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { gitVersion: 'v1.23.5' } })), { major: 1, minor: 23, gitVersion: 'v1.23.5' });
  // A kubectl built without version stamping: empty major/minor, the gitVersion says it.
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { major: '', minor: '', gitVersion: 'v1.30.2' } })), { major: 1, minor: 30, gitVersion: 'v1.30.2' });
  assert.equal(parseKubectlClientVersion(JSON.stringify({ clientVersion: { major: '1', minor: '23+', gitVersion: 'v1.23.17-eks' } })), { major: 1, minor: 23, gitVersion: 'v1.23.17-eks' });
  assert.is(parseKubectlClientVersion('Client Version: v1.29.1'), undefined);
  assert.is(parseKubectlClientVersion('not json'), undefined);
  assert.is(parseKubectlClientVersion('{}'), undefined);
});

test('1.24 and newer pass; older is one sentence naming the version found and the fix', () => {
  for (const ok of [client('1', '24', 'v1.24.0'), client('1', '30', 'v1.30.2'), client('1', '24+', 'v1.24.17-eks-1'), client('2', '0', 'v2.0.0')]) assert.is(kubectlCreateTokenProblem(ok), undefined, ok);
  assert.is(kubectlCreateTokenProblem(JSON.stringify({ clientVersion: { major: '', minor: '', gitVersion: 'v1.30.2' } })), undefined, 'unstamped build, version from gitVersion');
  assert.is(kubectlCreateTokenProblem(client('1', '23', 'v1.23.17')), 'kubectl v1.23.17 is too old for `kubectl create token`, which needs kubectl 1.24 or newer: install a current kubectl (https://kubernetes.io/docs/tasks/tools) and run again');
  assert.match(kubectlCreateTokenProblem('not json') ?? '', /^kubectl printed no client version .* needs kubectl 1\.24 or newer: install a current kubectl/);
});

function fakeKubectl(gitVersion: string, minor: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kubectl-'));
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh\nif [ "$1" = version ]; then echo '${client('1', minor, gitVersion)}'; exit 0; fi\nif [ "$1" = create ]; then echo aaaa.bbbb.cccc; exit 0; fi\nexit 1\n`, { mode: 0o755 });
  return dir;
}

test('webIdentityToken checks kubectl before `kubectl create token`', async () => {
  const { config } = parseConfig({ AWS_REGION: 'us-east-1' });
  const oldPath = process.env.PATH;
  try {
    process.env.PATH = `${fakeKubectl('v1.23.9', '23')}:${oldPath}`;
    try {
      await webIdentityToken(config, 'gloo-system', 'gloo');
      assert.unreachable('kubectl 1.23 must be refused');
    } catch (err) {
      assert.instance(err, RemoteError);
      assert.match((err as Error).message, /^kubectl v1\.23\.9 is too old for `kubectl create token`/);
    }
    process.env.PATH = `${fakeKubectl('v1.29.0', '29')}:${oldPath}`;
    const t = await webIdentityToken(config, 'gloo-system', 'gloo');
    assert.is(t.jwt, 'aaaa.bbbb.cccc');
    assert.is(t.source, 'kubectl create token');
  } finally {
    process.env.PATH = oldPath;
  }
});

test.run();
