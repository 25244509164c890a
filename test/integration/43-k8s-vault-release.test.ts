// Step 04 over an existing `vault` release (issue 13): a release a person installed
// (not in dev mode, with a value of their own) is not turned into a dev server
// without --yes (exit 5, release untouched); with --yes the user's value is kept.
// A changed Vault server role on a dev-mode release deletes vault-0 (the chart's
// StatefulSet updates OnDelete) so the new pod gets the new role from the IRSA
// webhook. Lab cluster (LAB_K8S=1) with the stand-in vault chart; VAULT_ADDR
// points at a closed port for step 04 and its verify is off (as in 42-k8s-teardown:
// the port-forward cannot reach a kwok pod).
// run.ts lane: alone (about 9 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ } from 'zx';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s04 } from '../../runbook/04-install-vault.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { helmRelease, helmValues } from '../../lib/helm.js';
import { ConfirmationError } from '../../lib/errors.js';
import { State } from '../../lib/state.js';
import type { Config } from '../../lib/config.js';
import { run } from '../helpers/lab.js';
import { k8sVars, setup, type TestSetup } from './10-13-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const k8s = readLabConfig().k8s;
const NS = 'gloo-t43';
const VNS = 'vault-t43';
const CLOSED = 'http://127.0.0.1:1';
let t: TestSetup;

async function helm(...args: string[]): Promise<string> {
  return (await $({ quiet: true, env: { ...process.env, KUBECONFIG: k8s!.kubeconfig } })`helm ${args}`).stdout;
}

async function kubectl(...args: string[]): Promise<string> {
  return (await $({ quiet: true, env: { ...process.env, KUBECONFIG: k8s!.kubeconfig } })`kubectl ${args}`).stdout;
}

async function revision(): Promise<number> {
  const list = JSON.parse(await helm('list', '-n', VNS, '--filter', '^vault$', '-o', 'json')) as { revision: string }[];
  return Number(list[0]!.revision);
}

async function vaultPod(): Promise<{ uid: string; roleArn: string | undefined }> {
  const pod = JSON.parse(await kubectl('get', 'pod', 'vault-0', '-n', VNS, '-o', 'json')) as { metadata: { uid: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } };
  return { uid: pod.metadata.uid, roleArn: pod.spec.containers[0]!.env?.find((e) => e.name === 'AWS_ROLE_ARN')?.value };
}

const at04 = (c: Config): Config => ({ ...c, vaultAddr: CLOSED });

if (!k8s) {
  console.log('skipped: the running lab has no Kubernetes API; start it with LAB_K8S=1 lab/bin/up');
  test.skip('step 04 over an existing vault release', () => undefined);
} else {
  test.before(async () => {
    t = await setup('t43', { ...k8sVars(NS), VAULT_K8S_NAMESPACE: VNS });
    const r = await run([s01, s02, s03], t.config);
    assert.is(r.error, undefined, r.output);
    await helm('uninstall', 'vault', '-n', VNS, '--wait').catch(() => undefined);
  });

  test.after(async () => {
    const r = await run(teardownSteps, t.config, { yes: true });
    assert.is(r.error, undefined, r.output);
    // Not recorded as created by the runbook when a person installed it: the test removes it.
    await helm('uninstall', 'vault', '-n', VNS, '--wait').catch(() => undefined);
  });

  test('a hand-installed Vault not in dev mode: refused without --yes (exit 5), release untouched', async () => {
    await helm('install', 'vault', path.join(root, 'lab', 'charts', 'vault'), '-n', VNS, '--create-namespace', '--set', 'server.dev.enabled=false', '--set', 'server.ha.enabled=true');
    const rev = await revision();
    const r = await run([s04], at04(t.config), { yes: false, verify: false });
    assert.instance(r.error, ConfirmationError, r.output);
    assert.is((r.error as ConfirmationError).exitCode, 5);
    assert.match(r.output, 'DESTRUCTIVE server.dev.enabled');
    assert.is(await revision(), rev, 'no Helm write');
    const v = (await helmValues('vault', VNS, t.config)) as { server?: { dev?: { enabled?: boolean }; ha?: { enabled?: boolean } } };
    assert.equal(v.server?.dev, { enabled: false });
    assert.is(v.server?.ha?.enabled, true);
  });

  test('with --yes: upgraded to dev mode, the user value kept; a re-run makes no Helm write', async () => {
    const rev = await revision();
    const r = await run([s04], at04(t.config), { yes: true, verify: false });
    assert.is(r.error, undefined, r.output);
    assert.is(await revision(), rev + 1);
    const roleArn = new State(t.config.stateFile, t.config, false).values().vaultServerRoleArn!;
    const v = (await helmValues('vault', VNS, t.config)) as { server?: { dev?: { enabled?: boolean }; ha?: { enabled?: boolean }; serviceAccount?: { annotations?: Record<string, string> } } };
    assert.is(v.server?.dev?.enabled, true);
    assert.is(v.server?.ha?.enabled, true, 'user value server.ha.enabled kept');
    assert.is(v.server?.serviceAccount?.annotations?.['eks.amazonaws.com/role-arn'], roleArn);
    const again = await run([s04], at04(t.config), { yes: false, verify: false });
    assert.is(again.error, undefined, again.output);
    assert.equal(again.results.map((x) => x.status), ['unchanged'], again.output);
    assert.is(await revision(), rev + 1, 'no Helm write on the re-run');
    await helm('uninstall', 'vault', '-n', VNS, '--wait');
  });

  test('a dev-mode release installed by step 04: a new Vault server role deletes vault-0, the new pod carries the new role', async () => {
    let r = await run([s04], at04(t.config), { verify: false });
    assert.is(r.error, undefined, r.output);
    assert.ok(await helmRelease('vault', VNS, t.config));
    const first = await vaultPod();
    const oldArn = new State(t.config.stateFile, t.config, false).values().vaultServerRoleArn!;
    assert.is(first.roleArn, oldArn, 'the webhook injected the first role');
    const other: Config = { ...t.config, vaultServerRoleName: `${t.config.vaultServerRoleName}-b` };
    r = await run([s03], other);
    assert.is(r.error, undefined, r.output);
    const newArn = new State(t.config.stateFile, t.config, false).values().vaultServerRoleArn!;
    assert.is.not(newArn, oldArn);
    r = await run([s04], at04(other), { yes: false, verify: false });
    assert.is(r.error, undefined, r.output);
    assert.match(r.output, 'vault-0 is deleted so it picks up the new role');
    const second = await vaultPod();
    assert.is.not(second.uid, first.uid, 'vault-0 recreated');
    assert.is(second.roleArn, newArn, 'the new pod has the new role');
    const again = await run([s04], at04(other), { yes: false, verify: false });
    assert.equal(again.results.map((x) => x.status), ['unchanged'], again.output);
    assert.is((await vaultPod()).uid, second.uid);
  });
}

test.run();
