// Runs the type check and every test file (each in its own process) and ends with
// the one line CI reads: `N passed, N failed`.
//
// Files run beside each other, TEST_JOBS at a time (default 3; make test must stay under
// 3 minutes on 2 cores, issue 11), each file's output printed whole when it ends. What
// must not overlap is kept apart by the file's lane, named in a line
// `// run.ts lane: <lane>`, optionally with `(about N s)`: the longest files start first.
//   first    before every other file, alone but for the type check: build.test.ts touches
//            sources and rebuilds dist/, which the other files' make and lab/bin run.
//   alone    the shared lab (the one `make test` starts) with no other file on it: files
//            that compare all of moto's IAM before and after, switch the lab's IAM or
//            Vault enforcement, break it, or change the lab's Vault server role (shared
//            by every file: Vault's own AWS identity): delete it or its policy, or give it
//            a trust policy of their own (a VAULT_K8S_NAMESPACE not `vault`).
//            A file that reads the shared lab and names no lane is here.
//   names    the shared lab, beside any other file on it but `alone` ones: its cluster,
//            mounts, IAM names and state file are its own (setup(tag) in 10-13-setup.ts),
//            and the Vault server role's trust policy is the default one.
//   cluster  the shared lab's own cluster (its IAM roles and its run lock): one at a time.
//   k8s      the shared lab's Kubernetes API (its Vault namespace): one at a time.
//   own      a lab, servers or nothing of its own (fixed ports of its own below 32768, or
//            the OS's), touching nothing of the shared lab: any time. A file that does
//            not read the shared lab and names no lane is here.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.TEST_JOBS ?? 3) || 3);

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

const LANES = ['first', 'alone', 'names', 'cluster', 'k8s', 'own'] as const;
type Lane = (typeof LANES)[number];
const SHARED_LAB = /helpers\/lab\.js|10-13-setup|readLabEnv|readLabConfig/;
interface File {
  file: string;
  lane: Lane;
  about: number;
}
function fileOf(file: string): File {
  const text = fs.readFileSync(file, 'utf8');
  const m = /^\/\/ run\.ts lane: (\w+)(?: \(about (\d+) s\))?/m.exec(text);
  if (m && !(LANES as readonly string[]).includes(m[1]!)) throw new Error(`${file}: unknown lane "${m[1]}" (${LANES.join(', ')})`);
  const lane = (m?.[1] as Lane | undefined) ?? (SHARED_LAB.test(text) ? 'alone' : 'own');
  return { file, lane, about: Number(m?.[2] ?? 0) };
}
// `alone` files first (one after another, while the others run files of their own lab),
// then the longest first (then in name order), so no long file starts last.
const queue = selected.map(fileOf).sort((a, b) => Number(b.lane === 'alone') - Number(a.lane === 'alone') || b.about - a.about);

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

/** Runs a command, its stdout and stderr collected (in the order they came). */
function collect(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const p = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => chunks.push(d));
    p.stderr.on('data', (d: Buffer) => chunks.push(d));
    p.on('error', (e) => chunks.push(Buffer.from(`\n${e.message}\n`)));
    p.on('close', (status) => resolve({ status, out: Buffer.concat(chunks).toString('utf8') }));
  });
}

async function typecheck(): Promise<void> {
  const tsc = await collect('npx', ['tsc', '--noEmit'], process.env);
  process.stdout.write(`\n# typecheck (tsc --noEmit)\n${tsc.out}`);
  if (tsc.status === 0) passed++;
  else {
    failed++;
    failures.push('typecheck');
    details.push(`typecheck:\n${lastLines(tsc.out, 12)}`);
  }
}

async function runFile(file: string): Promise<void> {
  const rel = path.relative(root, file);
  const t0 = Date.now();
  const res = await collect(process.execPath, ['--import', 'tsx', '--import', './test/helpers/loud-hooks.ts', file], { ...process.env, FORCE_COLOR: '0' });
  const out = res.out;
  process.stdout.write(`\n# ${rel}\n${out}`);
  durations.push([rel, (Date.now() - t0) / 1000]);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(ok)) {
    failed++;
    failures.push(`${rel} (crashed, exit ${res.status})`);
    details.push(`${rel}:\n${lastLines(out, 12)}`);
    return;
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

// What runs on the shared lab now, by lane.
const onLab = new Map<Lane, number>(LANES.map((l) => [l, 0]));
const SHARED_LANES: Lane[] = ['alone', 'names', 'cluster', 'k8s'];
function runnable(f: File): boolean {
  const busy = SHARED_LANES.reduce((n, l) => n + onLab.get(l)!, 0);
  switch (f.lane) {
    case 'own':
      return true;
    case 'alone':
      return busy === 0;
    case 'names':
      return onLab.get('alone') === 0;
    default: // cluster, k8s: one at a time
      return onLab.get('alone') === 0 && onLab.get(f.lane) === 0;
  }
}

const t0 = Date.now();
const tsc = only.length ? Promise.resolve() : typecheck();
for (const f of queue.filter((q) => q.lane === 'first')) await runFile(f.file);
const rest = queue.filter((q) => q.lane !== 'first');
// Each worker takes the first file in the queue that may run now; when none may, it
// waits for any file to end. An `alone` file that is waiting holds back the shared-lab
// files after it, so that it gets its turn.
let wake: () => void = () => undefined;
let ended = new Promise<void>((r) => (wake = r));
async function worker(): Promise<void> {
  for (;;) {
    if (!rest.length) return;
    let pick = -1;
    for (let i = 0; i < rest.length; i++) {
      const f = rest[i]!;
      if (runnable(f)) {
        pick = i;
        break;
      }
      if (f.lane === 'alone') break; // no other shared-lab file goes before it
    }
    if (pick < 0) {
      // Nothing may run before the alone file: only files that leave the shared lab alone.
      pick = rest.findIndex((f) => f.lane === 'own');
    }
    if (pick < 0) {
      await ended;
      continue;
    }
    const [f] = rest.splice(pick, 1);
    onLab.set(f!.lane, onLab.get(f!.lane)! + 1);
    try {
      await runFile(f!.file);
    } finally {
      onLab.set(f!.lane, onLab.get(f!.lane)! - 1);
      const w = wake;
      ended = new Promise<void>((r) => (wake = r));
      w();
    }
  }
}
await Promise.all([tsc, ...Array.from({ length: jobs }, worker)]);

// The slowest files, so a slow test is seen where it is added.
const slow = [...durations].sort((a, b) => b[1] - a[1]).slice(0, 8);
if (slow.length > 1) process.stdout.write(`\n# slowest files (${((Date.now() - t0) / 1000).toFixed(0)} s in all, files beside each other)\n${slow.map(([f, s]) => `${s.toFixed(1).padStart(6)} s  ${f}`).join('\n')}\n`);
if (details.length) process.stdout.write(`\n# failures again, in short\n${details.join('\n\n')}\n`);
if (failures.length) process.stdout.write(`\nfailed: ${failures.join(', ')}\n`);
// The last line is exactly `N passed, N failed` (what CI reads); skips are said just above it.
if (skipped) process.stdout.write(`\n${skipped} skipped (each file above says why)\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
