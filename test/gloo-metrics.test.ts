// lib/gloo-metrics.ts and verify's summary: Gloo's Vault login counters read from
// Prometheus text as Gloo's stats server serves it, link 7's decision (ok / failed in
// one sentence / not checked with the reason), the exact `kubectl get --raw` call
// through the API server's pod proxy (a recording stand-in kubectl on PATH), and the
// summary line saying what was and was not checked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { glooLoginVerdict, parsePrometheusText, podMetricsPath, readGlooMetrics, vaultLoginCounters } from '../lib/gloo-metrics.js';
import { verifySummary } from '../runbook/12-verify.js';
import type { Link } from '../lib/verify-chain.js';

// What a Gloo 1.16 gloo pod serves at :9091/metrics (opencensus' Prometheus exporter: no
// namespace, the measure name's '.' and '/' turned into '_'), trimmed, with a few neighbours.
const GLOO_OK = `# HELP api_gloo_solo_io_emitter_resources_in The number of resource lists received on open watch channels
# TYPE api_gloo_solo_io_emitter_resources_in counter
api_gloo_solo_io_emitter_resources_in{namespace="gloo-system",resource="*v1.Proxy"} 12
# HELP gloo_solo_io_vault_last_login_failure Timestamp of last failed authentication of vault
# TYPE gloo_solo_io_vault_last_login_failure gauge
gloo_solo_io_vault_last_login_failure 1.732851e+09
# HELP gloo_solo_io_vault_last_login_success Timestamp of last successful authentication of vault
# TYPE gloo_solo_io_vault_last_login_success gauge
gloo_solo_io_vault_last_login_success 1.732851600e+09
# HELP gloo_solo_io_vault_login_failures Number of failed authentications of vault
# TYPE gloo_solo_io_vault_login_failures counter
gloo_solo_io_vault_login_failures 2
# HELP gloo_solo_io_vault_login_successes Number of successful authentications of vault
# TYPE gloo_solo_io_vault_login_successes counter
gloo_solo_io_vault_login_successes 1
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 212
`;

const GLOO_FAILING = `# HELP gloo_solo_io_vault_last_login_failure Timestamp of last failed authentication of vault
# TYPE gloo_solo_io_vault_last_login_failure gauge
gloo_solo_io_vault_last_login_failure 1732851600
# HELP gloo_solo_io_vault_login_failures Number of failed authentications of vault
# TYPE gloo_solo_io_vault_login_failures counter
gloo_solo_io_vault_login_failures 10
`;

const NO_VAULT = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 88
# HELP kube_events_total Vault-like name, not the counter
# TYPE kube_events_total counter
kube_events_total{reason="vault_login_successes"} 4
`;

test('parses samples: HELP/TYPE skipped, labels with spaces, commas, braces and escapes, floats, Inf/NaN, timestamps', () => {
  const text = [
    '# HELP x_total A counter.',
    '# TYPE x_total counter',
    'x_total 3.0',
    'x_total{a="1",b="two words"} 1e3 1732851600000',
    'y{path="/a,b}{c",q="say \\"hi\\"",nl="l1\\nl2",bs="c:\\\\d"} +Inf',
    'z NaN',
    'w{ a = "1" , } -2.5',
    'bad{a=1} 3',
    'nameonly',
    '',
  ].join('\n');
  const s = parsePrometheusText(text);
  assert.equal(s.map((x) => x.name), ['x_total', 'x_total', 'y', 'z', 'w']);
  assert.equal(s[1], { name: 'x_total', labels: { a: '1', b: 'two words' }, value: 1000 });
  assert.equal(s[2]!.labels, { path: '/a,b}{c', q: 'say "hi"', nl: 'l1\nl2', bs: 'c:\\d' });
  assert.is(s[2]!.value, Infinity);
  assert.ok(Number.isNaN(s[3]!.value));
  assert.equal(s[4], { name: 'w', labels: { a: '1' }, value: -2.5 });
});

test("Gloo's Vault login counters: by the end of the metric name, summed across label sets, absent when absent", () => {
  assert.equal(vaultLoginCounters(GLOO_OK), { successes: 1, failures: 2, lastSuccess: 1732851600, lastFailure: 1732851000 });
  assert.equal(vaultLoginCounters(GLOO_FAILING), { failures: 10, lastFailure: 1732851600 });
  assert.equal(vaultLoginCounters(NO_VAULT), {}, 'a label value naming the counter is not the counter');
  assert.equal(vaultLoginCounters(''), {});
  // A namespace prefix, a _total suffix (newer exporters), label sets summed; timestamps: the latest.
  const labelled = [
    'gloo_gloo_solo_io_vault_login_successes_total{pod="a"} 2',
    'gloo_gloo_solo_io_vault_login_successes_total{pod="b"} 3.0',
    'gloo_solo_io_vault_last_login_success{pod="a"} 100',
    'gloo_solo_io_vault_last_login_success{pod="b"} 200',
    'gloo_solo_io_vault_login_successes_per_second 9',
    'not_vault_login_successes_x 9',
  ].join('\n');
  assert.equal(vaultLoginCounters(labelled), { successes: 5, lastSuccess: 200 });
});

test('link 7 holds when every running gloo pod logged in: the count, the last time, earlier failures', () => {
  const v = glooLoginVerdict([{ pod: 'gloo-7d9-x1', statsServer: 'true', text: GLOO_OK }], 'gloo-system');
  assert.is(v.outcome, 'ok');
  assert.is(v.detail, "Gloo itself logged in to Vault 1 time (pod gloo-7d9-x1's :9091/metrics, last at 2024-11-29T03:40:00Z, after 2 failed attempts)");
  const two = glooLoginVerdict([{ pod: 'a', text: 'gloo_solo_io_vault_login_successes 2' }, { pod: 'b', text: 'gloo_solo_io_vault_login_successes 1' }], 'ns');
  assert.equal(two, { outcome: 'ok', detail: 'Gloo itself logged in to Vault 3 times (the :9091/metrics of 2 gloo pods)' });
  const relapsed = glooLoginVerdict([{ pod: 'a', text: 'gloo_solo_io_vault_login_successes 1\ngloo_solo_io_vault_login_failures 1\ngloo_solo_io_vault_last_login_success 100\ngloo_solo_io_vault_last_login_failure 200' }], 'ns');
  assert.is(relapsed.outcome, 'ok');
  assert.match(relapsed.detail, 'its latest attempt, at 1970-01-01T00:03:20Z, failed');
});

test('link 7 fails in one sentence when a pod only failed to log in: what to read and what to run', () => {
  const v = glooLoginVerdict([{ pod: 'gloo-7d9-x1', statsServer: 'true', text: GLOO_FAILING }], 'gloo-system');
  assert.is(v.outcome, 'failed');
  assert.is(v.detail, "Gloo itself failed to log in to Vault (pod gloo-7d9-x1: 10 times, last at 2024-11-29T03:40:00Z, never successfully), though the same chain works with the runbook's token: read its error with `kubectl logs -n gloo-system deploy/gloo | grep -i vault`, then run `make troubleshoot`");
  assert.not.ok(/; |\n/.test(v.detail), 'one sentence');
  // A failing pod decides even when another pod's page could not be read.
  assert.is(glooLoginVerdict([{ pod: 'a', error: 'timeout' }, { pod: 'b', text: GLOO_FAILING }], 'ns').outcome, 'failed');
});

test('link 7 is not checked, with the reason in one clause, when nothing can be proven: never a pass', () => {
  const kwok = glooLoginVerdict([{ pod: 'gloo-5f-abc', statsServer: 'true', error: 'Error from server (ServiceUnavailable): the server is currently unable to handle the request (get pods gloo-5f-abc:9091)' }], 'gloo-t44');
  assert.equal(kwok, { outcome: 'not checked', detail: "pod gloo-5f-abc did not serve :9091/metrics through the API server's pod proxy (Error from server (ServiceUnavailable): the server is currently unable to handle the request (get pods gloo-5f-abc:9091))" });
  const off = glooLoginVerdict([{ pod: 'g', error: 'dial tcp 10.0.0.5:9091: connect: connection refused' }], 'ns');
  assert.is(off.outcome, 'not checked');
  assert.match(off.detail, "(dial tcp 10.0.0.5:9091: connect: connection refused, and its spec has no START_STATS_SERVER=true, so its stats server is off: the Gloo chart's global.glooStats.enabled)");
  const silent = glooLoginVerdict([{ pod: 'g', statsServer: 'true', text: NO_VAULT }], 'ns');
  assert.equal(silent, { outcome: 'not checked', detail: "pod g's metrics carry no Vault login counters (a Gloo that has not tried to log in yet, does not read secrets from Vault, or predates the counters)" });
  assert.is(glooLoginVerdict([{ pod: 'g', text: 'gloo_solo_io_vault_login_successes 0' }], 'ns').outcome, 'not checked');
  assert.is(glooLoginVerdict([{ pod: 'a', text: GLOO_OK }, { pod: 'b', error: 'timeout' }], 'ns').outcome, 'not checked', 'one pod unread: not all proven');
  assert.equal(glooLoginVerdict([], 'ns'), { outcome: 'not checked', detail: 'no running gloo pod in ns to read metrics from' });
  for (const v of [kwok, off, silent]) assert.not.ok(/; |\n/.test(v.detail), `one clause: ${v.detail}`);
});

test('reads each pod through the API server pod proxy: the exact kubectl call, its answer or its error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-kubectl-'));
  const log = path.join(dir, 'calls.log');
  fs.writeFileSync(path.join(dir, 'metrics.txt'), GLOO_OK);
  fs.writeFileSync(path.join(dir, 'kubectl'), [
    '#!/bin/sh',
    `printf '%s\\n' "$*" >> '${log}'`,
    'case "$3" in',
    `  */pods/gloo-ok:9091/proxy/metrics) cat '${dir}/metrics.txt' ;;`,
    '  *) echo \'Error from server (ServiceUnavailable): the server is currently unable to handle the request (get pods gloo-dead:9091)\' >&2; exit 1 ;;',
    'esac',
    '',
  ].join('\n'), { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved}`;
  try {
    const got = await readGlooMetrics({ namespace: 'gloo-system', kubeconfig: undefined }, [{ name: 'gloo-ok', statsServer: 'true' }, { name: 'gloo-dead' }]);
    assert.equal(fs.readFileSync(log, 'utf8').trim().split('\n').sort(), [
      'get --raw /api/v1/namespaces/gloo-system/pods/gloo-dead:9091/proxy/metrics --request-timeout=5s',
      'get --raw /api/v1/namespaces/gloo-system/pods/gloo-ok:9091/proxy/metrics --request-timeout=5s',
    ]);
    assert.equal(got[0], { pod: 'gloo-ok', statsServer: 'true', text: GLOO_OK });
    assert.equal(got[1], { pod: 'gloo-dead', error: 'Error from server (ServiceUnavailable): the server is currently unable to handle the request (get pods gloo-dead:9091)' });
    assert.is(glooLoginVerdict(got, 'gloo-system').outcome, 'not checked');
    assert.is(glooLoginVerdict(got.slice(0, 1), 'gloo-system').outcome, 'ok');
  } finally {
    process.env.PATH = saved;
  }
  assert.is(podMetricsPath('gloo-system', 'gloo-abc', 9091), '/api/v1/namespaces/gloo-system/pods/gloo-abc:9091/proxy/metrics');
});

test("verify's summary says what each link proved, and that link 7 was not checked when it was not", () => {
  const ok = (n: number): Link => ({ n, name: `l${n}`, ok: true, detail: 'fine' });
  const five = [1, 2, 3, 4, 5].map(ok);
  assert.is(verifySummary(five, 'dev', 'no Kubernetes cluster answers kubectl'), "all 5 links hold: a token for Gloo's service account reaches its secrets in dev/; the running gloo pod (link 6) and Gloo's own Vault login (link 7) were not checked (no Kubernetes cluster answers kubectl)");
  const unread: Link = { n: 7, name: 'l7', ok: false, notChecked: true, detail: 'pod g did not serve :9091/metrics through the API server\'s pod proxy (refused)' };
  assert.is(verifySummary([...five, ok(6), unread], 'dev', ''), "all 6 links hold: a token for Gloo's service account reaches its secrets in dev/; the running gloo pod carries the role; Gloo's own Vault login (link 7) was not checked: pod g did not serve :9091/metrics through the API server's pod proxy (refused)");
  const held: Link = { n: 7, name: 'l7', ok: true, detail: 'Gloo itself logged in to Vault 1 time (pod g\'s :9091/metrics)' };
  assert.is(verifySummary([...five, ok(6), held], 'dev', ''), "all 7 links hold: a token for Gloo's service account reaches its secrets in dev/; the running gloo pod carries the role; Gloo itself logged in to Vault 1 time (pod g's :9091/metrics)");
});

test.run();
