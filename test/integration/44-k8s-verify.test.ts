// Steps 01-11 then 12 in ONE run on the lab's Kubernetes API (issue 13): step 04
// uses the lab's Vault (it answers at VAULT_ADDR), 05-09 configure it, 11 installs
// the stand-in gloo chart whose pods get their IRSA env from the lab's webhook, and
// 12 takes its token from `kubectl create token` and passes links 1-6, link 6 (the
// running gloo pod carries the role) included; link 7 (Gloo's own Vault login, from
// its metrics) is reported "not checked" with the reason, as kwok's pods run no
// process to serve metrics. Then the two ways the running pod can lack the role, each
// failing verify at link 6 in one sentence (exit 6) and converged by step 11: the
// service account's annotation removed by hand (pods restarted), and pods older than
// the annotation. Last, link 7's reading path for real: a gloo pod (on a node nothing
// runs) whose IP is this machine's, where a test server answers as Gloo's stats server
// does; the real API server's pod proxy carries `kubectl get --raw` to it: link 7 holds,
// then fails in one sentence when the page shows only failed logins.
// run.ts lane: k8s (about 14 s)
import http from 'node:http';
import os from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { $ } from 'zx';
import { loadSteps } from '../../lib/steps.js';
import { step as s11 } from '../../runbook/11-install-gloo.js';
import { step as s12 } from '../../runbook/12-verify.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { VerificationError } from '../../lib/errors.js';
import { helmRelease } from '../../lib/helm.js';
import { rolloutRestart } from '../../lib/gloo-pods.js';
import { State } from '../../lib/state.js';
import { makeCtx } from '../../lib/run.js';
import { brokenLink, verifyChain, type Link } from '../../lib/verify-chain.js';
import { run } from '../helpers/lab.js';
import { k8sVars, setup, type TestSetup } from './10-13-setup.js';

const k8s = readLabConfig().k8s;
const NS = 'gloo-t44';
const ROLE_KEY = 'eks.amazonaws.com/role-arn';
let t: TestSetup;
let roleArn = '';

async function kubectl(...args: string[]): Promise<string> {
  return (await $({ quiet: true, env: { ...process.env, KUBECONFIG: k8s!.kubeconfig } })`kubectl ${args}`).stdout;
}

/** AWS_ROLE_ARN of each running, not terminating, gloo pod. */
async function glooPodRoles(): Promise<(string | undefined)[]> {
  const list = JSON.parse(await kubectl('get', 'pods', '-n', NS, '-l', 'gloo=gloo', '-o', 'json')) as { items: { metadata: { deletionTimestamp?: string }; status?: { phase?: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } }[] };
  return list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0]!.env?.find((e) => e.name === 'AWS_ROLE_ARN')?.value);
}

/** Restart deployment/gloo and wait until its only running pods are new ones with role `want`. */
async function restartGloo(want: string | undefined): Promise<void> {
  // As step 11 restarts (kubectl refuses a second restart within the same second).
  await rolloutRestart(t.config, ['gloo']);
  await kubectl('rollout', 'status', 'deployment/gloo', '-n', NS, '--timeout=120s');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const roles = await glooPodRoles();
    if (roles.length && roles.every((r) => r === want)) return;
    if (Date.now() > deadline) throw new Error(`gloo pods did not settle on AWS_ROLE_ARN=${want}: ${JSON.stringify(roles)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Step 12 alone must fail at link 6 with exactly `sentence` (one sentence: no "; ", no newline). */
async function verifyFailsAtLink6(sentence: RegExp): Promise<void> {
  const r = await run([s12], t.config);
  assert.instance(r.error, VerificationError, r.output);
  assert.is((r.error as VerificationError).exitCode, 6);
  const msg = (r.error as Error).message;
  assert.match(msg, /^link 6 \(running gloo pod in gloo-t44 runs as role-t44-\w+\) is broken: /);
  const why = msg.replace(/^link 6 \([^)]*\) is broken: /, '');
  assert.match(why, sentence, msg);
  assert.not.ok(/; |\n/.test(why), `one sentence: ${why}`);
  for (const n of [1, 2, 3, 4, 5]) assert.match(r.output, new RegExp(`ok\\s+${n} `), `link ${n} still holds:\n${r.output}`);
}

if (!k8s) {
  console.log('skipped: the running lab has no Kubernetes API; start it with LAB_K8S=1 lab/bin/up');
  test.skip('steps 01-12 on the lab cluster', () => undefined);
} else {
  test.before(async () => {
    t = await setup('t44', k8sVars(NS));
  });

  test.after(async () => {
    const r = await run(teardownSteps, t.config, { yes: true });
    assert.is(r.error, undefined, `${r.output}\n${String((r.error as Error | undefined)?.message)}`);
    assert.is(await helmRelease('gloo', NS, t.config), undefined, 'teardown uninstalled gloo');
  });

  test('steps 01-11 then 12 in one run: verify passes every link, link 6 (the running gloo pod) included', async () => {
    const steps = await loadSteps({ to: 12 });
    const r = await run(steps, t.config);
    assert.is(r.error, undefined, `${r.output}\n${String((r.error as Error | undefined)?.message)}`);
    assert.equal(r.results.map((x) => x.id), ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']);
    assert.is(r.results.find((x) => x.id === '04')!.status, 'skipped', 'the lab Vault answers at VAULT_ADDR');
    for (const id of ['05', '06', '07', '08', '09', '10', '11']) assert.is(r.results.find((x) => x.id === id)!.status, 'changed', id);
    assert.is(r.results.find((x) => x.id === '12')!.status, 'verified');
    roleArn = new State(t.config.stateFile, t.config, false).values().roleArn!;
    assert.match(r.output, /ok\s+1 web-identity token for gloo-t44\/gloo .*kubectl create token: sub system:serviceaccount:gloo-t44:gloo/);
    assert.match(r.output, new RegExp(`ok\\s+6 running gloo pod in gloo-t44 runs as ${t.names.role}.*1 running gloo pod\\(s\\) have AWS_ROLE_ARN=${roleArn.replace(/[/]/g, '\\/')} and AWS_WEB_IDENTITY_TOKEN_FILE`));
    // Link 7: kwok's gloo pod runs no process, so its metrics page does not answer through
    // the pod proxy (the API server's dial fails or, on this kind of machine, the sandbox's
    // network answers for the pod IP): not checked, with the reason; not a failure.
    assert.match(r.output, /not checked\s+7 Gloo's own Vault login, from the gloo pods' metrics — pod gloo-[\w-]+ did not serve :9091\/metrics through the API server's pod proxy \(.+\)/);
    assert.not.match(r.output, /failed\s+7 /);
    assert.match(r.output, /all 6 links hold: .*the running gloo pod carries the role; Gloo's own Vault login \(link 7\) was not checked: pod gloo-[\w-]+ did not serve :9091\/metrics through the API server's pod proxy \(.+\)/);
    assert.equal(await glooPodRoles(), [roleArn]);
  });

  test('the role annotation removed from the gloo service account and the pods restarted: verify fails at link 6 in one sentence', async () => {
    await kubectl('annotate', 'serviceaccount', 'gloo', '-n', NS, `${ROLE_KEY}-`);
    await restartGloo(undefined);
    await verifyFailsAtLink6(/^1 of 1 running gloo pod\(s\) in gloo-t44 run without AWS_ROLE_ARN=arn:aws:iam::\d+:role\/role-t44-\w+ \(gloo-[\w-]+: none\) because service account gloo-t44\/gloo carries eks\.amazonaws\.com\/role-arn=\(none\), so a restart alone would not help: run `make step-11`, which restores the annotation and restarts the pods$/);
  });

  test('step 11 shows the hand-removed annotation as drift and converges: the pods carry the role, verify passes again', async () => {
    const r = await run([s11], t.config);
    assert.is(r.error, undefined, `${r.output}\n${String((r.error as Error | undefined)?.message)}`);
    assert.equal(r.results.map((x) => x.status), ['changed'], r.output);
    assert.match(r.output, 'drift on role annotation on the service accounts of Helm release gloo in gloo-t44');
    assert.match(r.output, `service account gloo-t44/gloo has ${ROLE_KEY}=(none), wanted ${roleArn}`);
    assert.is(JSON.parse(await kubectl('get', 'serviceaccount', 'gloo', '-n', NS, '-o', 'json')).metadata.annotations[ROLE_KEY], roleArn);
    assert.equal(await glooPodRoles(), [roleArn]);
    const again = await run([s11], t.config);
    assert.equal(again.results.map((x) => x.status), ['unchanged'], again.output);
    const v = await run([s12], t.config);
    assert.is(v.error, undefined, `${v.output}\n${String((v.error as Error | undefined)?.message)}`);
    assert.match(v.output, 'all 6 links hold');
  });

  test('pods older than the annotation (another role, then the right one with no restart): link 6 names the restart; step 11 restarts them', async () => {
    const other = roleArn.replace(/role\/.*$/, 'role/hand-made-t44');
    await kubectl('annotate', '--overwrite', 'serviceaccount', 'gloo', '-n', NS, `${ROLE_KEY}=${other}`);
    await restartGloo(other);
    await kubectl('annotate', '--overwrite', 'serviceaccount', 'gloo', '-n', NS, `${ROLE_KEY}=${roleArn}`);
    await verifyFailsAtLink6(/^1 of 1 running gloo pod\(s\) in gloo-t44 run without AWS_ROLE_ARN=\S+ \(gloo-[\w-]+: arn:aws:iam::\d+:role\/hand-made-t44\): they were created before service account gloo-t44\/gloo got the role, so restart them: kubectl rollout restart deployment\/gloo -n gloo-t44$/);
    const r = await run([s11], t.config);
    assert.is(r.error, undefined, `${r.output}\n${String((r.error as Error | undefined)?.message)}`);
    assert.equal(r.results.map((x) => x.status), ['changed'], r.output);
    assert.match(r.output, 'drift on running pods of deployment/gloo in gloo-t44');
    assert.equal(await glooPodRoles(), [roleArn]);
    const v = await run([s12], t.config);
    assert.is(v.error, undefined, `${v.output}\n${String((v.error as Error | undefined)?.message)}`);
    assert.match(v.output, 'all 6 links hold');
  });

  test("link 7 for real through the API server's pod proxy: a metrics page with a Vault login holds, one with only failures breaks it in one sentence", async () => {
    // The API server proxies to pod IPs but refuses loopback: the page is served on this
    // machine's own non-loopback address, the IP of a gloo pod on a node nothing runs on.
    const ip = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))?.address;
    assert.ok(ip, 'this machine has a non-loopback IPv4 address');
    let page = '';
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(page);
    });
    await new Promise<void>((resolve) => server.listen(0, ip, resolve));
    const port = (server.address() as { port: number }).port;
    const NODE = 'no-kubelet-t44';
    const POD = 'gloo-metrics-t44';
    try {
      await kubectl('scale', 'deployment/gloo', '-n', NS, '--replicas=0');
      for (const deadline = Date.now() + 60_000; (await glooPodRoles()).length;) {
        if (Date.now() > deadline) throw new Error('kwok gloo pods did not go away');
        await new Promise((r) => setTimeout(r, 500));
      }
      const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE }, spec: { unschedulable: true } },
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: POD, namespace: NS, labels: { gloo: 'gloo' } }, spec: { nodeName: NODE, serviceAccountName: 'gloo', containers: [{ name: 'gloo', image: 'quay.io/solo-io/gloo:1.16.0', env: [{ name: 'START_STATS_SERVER', value: 'true' }] }] } },
      ] });
      await $({ quiet: true, input: manifest, env: { ...process.env, KUBECONFIG: k8s!.kubeconfig } })`kubectl apply -f -`;
      await kubectl('patch', 'pod', POD, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }));
      assert.equal(await glooPodRoles(), [roleArn], 'the webhook gave the pod the role: link 6 holds for it');

      const chain = async (): Promise<Link[]> => verifyChain(makeCtx(t.config, new State(t.config.stateFile, t.config, false), 'apply', true), { glooStatsPort: port });
      page = [
        '# HELP gloo_solo_io_vault_login_successes Number of successful authentications of vault',
        '# TYPE gloo_solo_io_vault_login_successes counter',
        'gloo_solo_io_vault_login_successes 1',
        '# HELP gloo_solo_io_vault_last_login_success Timestamp of last successful authentication of vault',
        '# TYPE gloo_solo_io_vault_last_login_success gauge',
        'gloo_solo_io_vault_last_login_success 1.7328516e+09',
        '',
      ].join('\n');
      const ok = await chain();
      assert.equal(ok.map((l) => [l.n, l.ok]), [[1, true], [2, true], [3, true], [4, true], [5, true], [6, true], [7, true]], JSON.stringify(ok));
      assert.is(ok[6]!.detail, `Gloo itself logged in to Vault 1 time (pod ${POD}'s :${port}/metrics, last at 2024-11-29T03:40:00Z)`);
      assert.equal(seen, ['/metrics?timeout=5s'], 'the API server proxied `kubectl get --raw .../pods/<pod>:<port>/proxy/metrics` to /metrics');

      page = 'gloo_solo_io_vault_login_failures 10\ngloo_solo_io_vault_last_login_failure 1732851600\n';
      const failing = await chain();
      const broken = brokenLink(failing);
      assert.is(broken?.n, 7, JSON.stringify(failing));
      assert.is(broken!.detail, `Gloo itself failed to log in to Vault (pod ${POD}: 10 times, last at 2024-11-29T03:40:00Z, never successfully), though the same chain works with the runbook's token: read its error with \`kubectl logs -n ${NS} deploy/gloo | grep -i vault\`, then run \`make troubleshoot\``);
    } finally {
      server.close();
      await kubectl('delete', 'pod', POD, '-n', NS, '--grace-period=0', '--force', '--ignore-not-found').catch(() => undefined);
      await kubectl('delete', 'node', NODE, '--ignore-not-found').catch(() => undefined);
      await kubectl('scale', 'deployment/gloo', '-n', NS, '--replicas=1').catch(() => undefined);
    }
  });
}

test.run();
