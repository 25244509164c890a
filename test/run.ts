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
const details: string[] = [];
const durations: [string, number][] = [];

// CI keeps only the end of the log: the failures are repeated, short, just
// above the summary line. Each uvu FAIL block without its node_modules frames.
function failBlocks(out: string, max = 3): string {
  const blocks = out.split(/\n(?=\s*FAIL\s)/).filter((b) => /^\s*FAIL\s/.test(b)).slice(0, max);
  return blocks
    .map((b) => b.split(/\n\s*\(\d+ \/ \d+\)|\n\s*Total:/)[0]!.split('\n').filter((l) => l.trim() && !/node_modules|node:internal/.test(l)).slice(0, 10).join('\n'))
    .join('\n');
}
const lastLines = (out: string, n: number) => out.trimEnd().split('\n').slice(-n).join('\n');

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
  const t0 = Date.now();
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--import', './test/helpers/loud-hooks.ts', file], { cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024 });
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  process.stdout.write(out);
  durations.push([rel, (Date.now() - t0) / 1000]);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed++;
    failures.push(`${rel} (crashed, exit ${res.status})`);
    details.push(`${rel}:\n${lastLines(out, 12)}`);
    continue;
  }
  passed += ok;
  skipped += skip;
  // uvu's Total counts the tests that ran; skipped ones are apart from it.
  const bad = total - ok;
  failed += bad;
  if (bad > 0 || res.status !== 0) {
    if (bad === 0) failed++;
    failures.push(rel);
    details.push(`${rel}:\n${failBlocks(out) || lastLines(out, 12)}`);
  }
}

// The slowest files, so a slow test is seen where it is added.
const slow = [...durations].sort((a, b) => b[1] - a[1]).slice(0, 8);
if (slow.length > 1) process.stdout.write(`\n# slowest files\n${slow.map(([f, s]) => `${s.toFixed(1).padStart(6)} s  ${f}`).join('\n')}\n`);
if (details.length) process.stdout.write(`\n# failures again, in short\n${details.join('\n\n')}\n`);
if (failures.length) process.stdout.write(`\nfailed: ${failures.join(', ')}\n`);
// The last line is exactly `N passed, N failed` (what CI reads); skips are said just above it.
if (skipped) process.stdout.write(`\n${skipped} skipped (each file above says why)\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
