// Runs the type check and every test file (each in its own process, in name
// order: unit tests, then the lab integration tests by step) and ends with
// the one line CI reads: `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? files(p) : d.name.endsWith('.test.ts') ? [p] : [];
  });
}

// Unit tests first (test/*.test.ts), then integration (test/integration/…), each sorted.
const all = files(path.join(root, 'test')).sort((a, b) => {
  const ia = a.includes(`${path.sep}integration${path.sep}`) ? 1 : 0;
  const ib = b.includes(`${path.sep}integration${path.sep}`) ? 1 : 0;
  return ia - ib || a.localeCompare(b);
});
const selected = only.length ? all.filter((f) => only.some((o) => f.includes(o))) : all;

let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];

if (!only.length) {
  process.stdout.write('\n# typecheck (tsc --noEmit)\n');
  const tsc = spawnSync('npx', ['tsc', '--noEmit'], { cwd: root, stdio: 'inherit' });
  if (tsc.status === 0) passed++;
  else {
    failed++;
    failures.push('typecheck');
  }
}

for (const file of selected) {
  const rel = path.relative(root, file);
  process.stdout.write(`\n# ${rel}\n`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024 });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  process.stdout.write(out);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed++;
    failures.push(`${rel} (crashed, exit ${res.status})`);
    continue;
  }
  passed += ok;
  skipped += skip;
  const bad = total - ok - skip;
  failed += bad;
  if (bad > 0 || res.status !== 0) {
    if (bad === 0) failed++;
    failures.push(rel);
  }
}

if (failures.length) process.stdout.write(`\nfailed: ${failures.join(', ')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed ? 1 : 0;
