// lib/template-cache.ts and step 10's use of it: a passing `helm template` of a local chart is
// remembered until helm, the chart or the values change; a failing one never is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binaryFingerprint, cacheFileFor, chartFingerprint, readCheck, rememberCheck, templateKey } from '../lib/template-cache.js';
import { parseConfig, type Config } from '../lib/config.js';
import { onPath } from '../lib/kube.js';
import { templateCheck, valuesText } from '../runbook/10-gloo-values.js';
import { labDir } from '../lab/lib/lab.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-tc-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the key changes with any part and not with their order', () => {
  const a = templateKey({ helm: 'h', chart: 'c', values: 'v' });
  assert.is(a, templateKey({ values: 'v', chart: 'c', helm: 'h' }));
  assert.is.not(a, templateKey({ helm: 'h', chart: 'c', values: 'v2' }));
  assert.is.not(a, templateKey({ helm: 'h2', chart: 'c', values: 'v' }));
});

test('a chart directory is fingerprinted by its files; a repository chart is not a directory', () => {
  const dir = path.join(tmp, 'chart');
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Chart.yaml'), 'name: x\n');
  fs.writeFileSync(path.join(dir, 'templates', 'a.yaml'), 'a: 1\n');
  const before = chartFingerprint(dir);
  assert.ok(before?.includes('templates/a.yaml'));
  fs.writeFileSync(path.join(dir, 'templates', 'a.yaml'), 'a: 22\n');
  assert.is.not(chartFingerprint(dir), before, 'an edited template changes the fingerprint');
  assert.is(chartFingerprint('gloo/gloo'), undefined);
  assert.is(binaryFingerprint(path.join(tmp, 'no-such-helm')), undefined);
});

test('remembered checks: read back by key, the newest few kept, a corrupt file is no cache', () => {
  const file = path.join(tmp, 'state', 'template-checks.json');
  assert.is(readCheck(file, 'k'), undefined);
  for (let i = 0; i < 10; i++) rememberCheck(file, `k${i}`, { proven: [`p${i}`] });
  assert.equal(readCheck(file, 'k9'), { proven: ['p9'] });
  assert.is(readCheck(file, 'k0'), undefined, 'only the newest entries are kept');
  fs.writeFileSync(file, '{not json');
  assert.is(readCheck(file, 'k9'), undefined);
  rememberCheck(file, 'k', { proven: ['p'] });
  assert.equal(readCheck(file, 'k'), { proven: ['p'] });
  assert.is(cacheFileFor(path.join(tmp, 'state', 'state.json')), file);
});

// Step 10's check with the real helm (the lab's, LAB_K8S=1) and the lab's stand-in Gloo chart
// copied here, through a recording wrapper that counts helm's runs.
const realHelm = onPath('helm') ?? (fs.existsSync(path.join(labDir(), 'bin', 'helm')) ? path.join(labDir(), 'bin', 'helm') : undefined);
const withHelm = realHelm ? test : test.skip;
if (!realHelm) process.stdout.write('  (skipped: no helm on PATH or in the lab: start the lab with LAB_K8S=1)\n');

withHelm('step 10 renders once, then remembers until helm, the chart or the values change; a failing render is not kept', async () => {
  const bin = path.join(tmp, 'bin');
  const log = path.join(tmp, 'helm.log');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'helm'), `#!/bin/sh\necho "$1" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(realHelm)} "$@"\n`, { mode: 0o755 });
  const chart = path.join(tmp, 'gloo');
  fs.cpSync(path.join(root, 'lab', 'charts', 'gloo'), chart, { recursive: true });
  const { config, problems } = parseConfig({ GLOO_HELM_CHART: chart, STATE_FILE: path.join(tmp, 'st', 'state.json'), GLOO_VALUES_FILE: path.join(tmp, 'values.yaml'), AWS_REGION: 'us-east-1' });
  assert.equal(problems, []);
  const roleArn = 'arn:aws:iam::123456789012:role/dev-role-iam-x';
  const values = (c: Config, arn: string) => fs.writeFileSync(c.valuesFile, valuesText(c, arn));
  const templates = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l === 'template').length : 0);
  const pathBefore = process.env.PATH;
  process.env.PATH = `${bin}:${pathBefore}`;
  try {
    values(config, roleArn);
    const first = await templateCheck(config, config.valuesFile, roleArn);
    assert.equal(first.problems, []);
    assert.ok(first.proven.length >= 3, JSON.stringify(first));
    assert.not.ok(first.remembered);
    assert.is(templates(), 1);

    const again = await templateCheck(config, config.valuesFile, roleArn);
    assert.ok(again.remembered, 'the same helm, chart and values: remembered');
    assert.equal(again.proven, first.proven);
    assert.is(templates(), 1, 'helm should not have run again');

    const other = 'arn:aws:iam::123456789012:role/other-role';
    values(config, other);
    const changed = await templateCheck(config, config.valuesFile, other);
    assert.not.ok(changed.remembered, 'new values: rendered again');
    assert.is(templates(), 2);

    // Helm's output now misses the role annotation: the check fails, and stays failing.
    const later = new Date(Date.now() + 5000);
    for (const f of fs.readdirSync(path.join(chart, 'templates'))) {
      const p = path.join(chart, 'templates', f);
      fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll('serviceAccount.extraAnnotations', 'serviceAccount.droppedAnnotations'));
      fs.utimesSync(p, later, later);
    }
    const broken = await templateCheck(config, config.valuesFile, other);
    assert.ok(broken.problems.length > 0, 'the edited chart no longer annotates the service accounts');
    const brokenAgain = await templateCheck(config, config.valuesFile, other);
    assert.ok(brokenAgain.problems.length > 0);
    assert.is(templates(), 4, 'a failing check is rendered every time');

    // A different helm binary (same path, new file): rendered again.
    fs.cpSync(path.join(root, 'lab', 'charts', 'gloo'), chart, { recursive: true });
    values(config, roleArn);
    await templateCheck(config, config.valuesFile, roleArn);
    const n = templates();
    fs.appendFileSync(path.join(bin, 'helm'), '# another build\n');
    const newHelm = await templateCheck(config, config.valuesFile, roleArn);
    assert.not.ok(newHelm.remembered);
    assert.is(templates(), n + 1);
  } finally {
    process.env.PATH = pathBefore;
  }
});

test.run();
