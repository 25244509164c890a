// The copy-paste reference is generated from the steps: the committed file
// must match, and every document it prints must parse.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadSteps, stepFiles } from '../lib/steps.js';
import { renderReference } from '../lib/reference.js';
import { VARIABLES } from '../lib/config.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

test('docs/RUNBOOK.md is up to date (run `make reference` when this fails)', async () => {
  const wanted = renderReference(await loadSteps());
  const committed = fs.readFileSync(path.join(root, 'docs/RUNBOOK.md'), 'utf8');
  assert.ok(committed === wanted, 'docs/RUNBOOK.md is stale: run `make reference` and commit it');
});

test('every step file is numbered and exports a step with the same number', async () => {
  const steps = await loadSteps();
  assert.is(steps.length, stepFiles().length);
  for (const [i, f] of stepFiles().entries()) assert.is(steps[i]!.id, f.slice(0, 2), f);
  assert.ok(steps.length >= 12, 'steps 01-12 at least');
});

test('every heredoc document in the reference parses (JSON or YAML), with shell variables filled', async () => {
  const text = renderReference(await loadSteps());
  const docs = [...text.matchAll(/cat > (\S+) <<'?EOF'?\n([\s\S]*?)\nEOF/g)];
  assert.ok(docs.length >= 4, `found ${docs.length} heredocs`);
  for (const [, file, body] of docs) {
    const filled = body!.replace(/\$\{([A-Z_]+)\}/g, (_m, n: string) => `value-of-${n.toLowerCase()}`);
    if (file!.endsWith('.json')) assert.not.throws(() => JSON.parse(filled), `${file} is not valid JSON`);
    else if (/\.ya?ml$/.test(file!)) assert.not.throws(() => YAML.parse(filled), `${file} is not valid YAML`);
  }
});

test('.env.example documents every variable with its default', () => {
  const text = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
  for (const v of VARIABLES) assert.ok(new RegExp(`^#? ?${v.name}=${v.default.replace(/[$()*+.?[\]^{|}\\]/g, '\\$&')}$`, 'm').test(text), v.name);
});

test('the README configuration table lists every variable with its default', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const table = readme.split('<!-- config-table:start -->')[1]!.split('<!-- config-table:end -->')[0]!;
  const rows = table.trim().split('\n').slice(2).map((r) => r.split('|').map((c) => c.trim()));
  assert.equal(rows.map((r) => r[1]), VARIABLES.map((v) => `\`${v.name}\``));
  assert.equal(rows.map((r) => r[2]), VARIABLES.map((v) => v.default));
});

test('README keeps the two set-up commands at the top', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const first = readme.split('```sh')[1]!.split('```')[0]!.trim().split('\n');
  assert.equal(first.map((l) => l.split('#')[0]!.trim()), ['make lab', 'make test']);
});

test.run();
