// A lab reused with another cluster name: `make lab`, `make lab-down`, then
// `CLUSTER_NAME=<other> make lab`. Leftover .lab/ files from the first lab must
// never carry its names into the second run: every resource carries the other
// name and verify passes. Runs the real `make lab` on a second lab of its own.
// run.ts lane: own (about 10 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'lab-reuse-'));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  LAB_DIR: join(base, 'lab'),
  LAB_STATE_DIR: join(base, 'state'),
  STATE_FILE: join(base, 'state', 'state.json'),
  LAB_MOTO_PORT: '25566',
  LAB_VAULT_PORT: '29200',
  LAB_ISSUER_PORT: '29181',
  LAB_STS_PROXY_PORT: '29182',
};
for (const k of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_AWS_ENDPOINT_URL', 'AWS_REGION', 'LAB_MODE', 'SA_TOKEN_COMMAND', 'GLOO_VALUES_FILE', 'LAB_K8S'])
  delete env[k];
const make = (target: string, extra: Record<string, string> = {}) =>
  run('make', ['-s', target], { cwd: root, env: { ...env, ...extra }, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });

async function roleNames(): Promise<string[]> {
  const admin = JSON.parse(readFileSync(join(env.LAB_DIR!, 'secrets', 'aws-admin.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const iam = new IAMClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${env.LAB_MOTO_PORT}`, credentials: admin });
  return ((await iam.send(new ListRolesCommand({}))).Roles ?? []).map((r) => r.RoleName!);
}

test('make lab for team-1, lab-down, then CLUSTER_NAME=team-2 make lab: everything is team-2 and verify passes', async () => {
  const first = await make('lab', { CLUSTER_NAME: 'reuse-team-1', GLOO_VALUES_FILE: join(base, 'values-1.yaml') });
  assert.match(first.stdout, /verify/i);
  assert.ok((await roleNames()).includes('dev-role-iam-reuse-team-1'));
  await make('lab-down');

  const second = await make('lab', { CLUSTER_NAME: 'reuse-team-2', GLOO_VALUES_FILE: join(base, 'values-2.yaml') });
  assert.is(JSON.parse(readFileSync(join(env.LAB_DIR!, 'lab.json'), 'utf8')).vaultCluster, 'reuse-team-2', 'the new lab is for the cluster asked for');
  const roles = await roleNames();
  assert.ok(roles.includes('dev-role-iam-reuse-team-2'), `Gloo's role carries the new name (${roles.join(', ')})`);
  assert.ok(roles.includes('vault-server-reuse-team-2'), 'so does the Vault server role');
  assert.not.ok(roles.some((r) => r.includes('team-1')), `nothing under the old name (${roles.join(', ')})`);
  assert.not.match(second.stdout + second.stderr, /team-1/, 'the old name appears nowhere in the run');
  assert.match(second.stdout, /reuse-team-2/);
  assert.match(readFileSync(join(base, 'values-2.yaml'), 'utf8'), /dev-role-iam-reuse-team-2/);
});

test.after(async () => {
  await make('lab-down').catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
});

test.run();
