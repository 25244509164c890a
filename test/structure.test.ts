// The runbook's shape: a step file reads like the guide section it mirrors and
// imports only lib/ (and packages); lib/ never reaches into runbook/ or lab/.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2]!).filter((s) => s.startsWith('.'));
}
const ts = (dir: string): string[] => fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.ts')).map((f) => path.join(root, dir, f));

test('the import scan sees relative imports (it can fail)', () => {
  assert.ok(imports(path.join(root, 'runbook', '01-cluster-oidc.ts')).includes('../lib/step.js'));
});

/** Imports of `dir`'s files that reach outside lib/. */
function outsideLib(dir: string): string[] {
  const bad: string[] = [];
  for (const file of ts(dir)) {
    for (const spec of imports(file)) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(path.join(root, 'lib') + path.sep)) bad.push(`${path.relative(root, file)} imports ${spec}`);
    }
  }
  return bad;
}

test('no runbook/ file imports another runbook/ file or lab/: only lib/', () => {
  assert.equal(outsideLib('runbook'), []);
});

test('lib/ imports neither runbook/ nor lab/', () => {
  assert.equal(outsideLib('lib'), []);
});

test('runbook/teardown.ts is short: teardown is derived from the steps', () => {
  const lines = fs.readFileSync(path.join(root, 'runbook', 'teardown.ts'), 'utf8').trim().split('\n').length;
  assert.ok(lines <= 20, `${lines} lines`);
});

test.run();
