// Teardown on the lab cluster with non-default namespaces (issue 13): both Helm
// releases the runbook installed go, gloo first, then vault. Step 04 installs the
// stand-in vault chart because VAULT_ADDR is pointed at a closed port for that
// step only (its verify, a port-forward to a kwok pod that runs nothing, is not
// run: the lab cannot prove a Vault answers from the cluster).
// run.ts lane: alone (about 8 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { step as s01 } from '../../runbook/01-cluster-oidc.js';
import { step as s02 } from '../../runbook/02-iam-role.js';
import { step as s03 } from '../../runbook/03-iam-policy.js';
import { step as s04 } from '../../runbook/04-install-vault.js';
import { step as s10 } from '../../runbook/10-gloo-values.js';
import { step as s11 } from '../../runbook/11-install-gloo.js';
import { teardownSteps } from '../helpers/teardown.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { helmRelease } from '../../lib/helm.js';
import { run } from '../helpers/lab.js';
import { k8sVars, setup, type TestSetup } from './10-13-setup.js';

const k8s = readLabConfig().k8s;
const NS = 'gloo-t42';
const VNS = 'vault-t42';
let t: TestSetup;

if (!k8s) {
  console.log('skipped: the running lab has no Kubernetes API; start it with LAB_K8S=1 lab/bin/up');
  test.skip('teardown on the lab cluster', () => undefined);
} else {
  test('teardown with non-default NAMESPACE and VAULT_K8S_NAMESPACE removes gloo, then vault', async () => {
    t = await setup('t42', { ...k8sVars(NS), VAULT_K8S_NAMESPACE: VNS });
    let r = await run([s01, s02, s03], t.config);
    assert.is(r.error, undefined, r.output);
    r = await run([s04], { ...t.config, vaultAddr: 'http://127.0.0.1:1' }, { verify: false });
    assert.is(r.error, undefined, r.output);
    assert.ok(await helmRelease('vault', VNS, t.config), 'vault installed');
    r = await run([s10, s11], t.config);
    assert.is(r.error, undefined, r.output);
    const td = await run(teardownSteps, t.config, { yes: true });
    assert.is(td.error, undefined, td.output);
    const g = td.output.indexOf(`Helm release gloo in namespace ${NS}`);
    const v = td.output.indexOf(`Helm release vault in namespace ${VNS}`);
    assert.ok(g >= 0 && v > g, `gloo first, then vault:\n${td.output}`);
    assert.is(await helmRelease('gloo', NS, t.config), undefined);
    assert.is(await helmRelease('vault', VNS, t.config), undefined);
  });
}

test.run();
