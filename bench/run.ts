// `make bench`: the runbook against the guide's own commands, in one lab, side by side.
//   (a) the full flow (runbook/all.ts, steps 01-12) in one process, from nothing
//   (b) the same steps each as its own process (`make step-NN`), from nothing
//   (c) a no-op re-run of the full flow (everything already in place)
//   (d) the guide's commands as a shell script (bench/guide.sh: aws CLI + vault CLI)
//   (p) each step in print mode (`make step-NN PRINT=1`: no network, start-up alone)
// Every variant runs what a user runs: the bundle in dist/ (build.mjs), through make for
// (b) and (p). Medians of BENCH_RUNS (default 5, at least 5) runs each; the ratios a/d,
// c/a, b/a; each step's process start-up over a bare `node -e 0`; each step's API calls
// against the minimum it needs; every figure next to its target (TARGETS). Writes
// bench/results.json and bench/RESULTS.md and the README section between
// <!-- bench:start --> and <!-- bench:end -->. BENCH_INSTALL=0 leaves out the lab install
// figures (minutes). Timings live here only; no test asserts one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readLabEnv, readLabConfig, labDir } from '../lab/lib/lab.js';
import { parseConfig } from '../lib/config.js';
import { loadSteps } from '../lib/steps.js';
import { runSteps } from '../lib/run.js';
import { captureOutput } from '../lib/log.js';
import { callLog, resetCalls } from '../lib/calls.js';
import { measureInstall, installTable, type InstallFigures } from './install.js';
import { registerCluster, ensureSharedProvider, ensureVaultServerRole } from '../test/integration/10-13-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5) || 5);
const say = (s: string) => process.stderr.write(`${s}\n`);

// ---- prerequisites -------------------------------------------------------------------------

function need(cmd: string, args: string[], hint: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    say(`make bench: ${cmd} is missing (${r.error ? (r.error as NodeJS.ErrnoException).code : `exit ${r.status}`}): ${hint}`);
    process.exit(3);
  }
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0]!;
}

const awsVersion = need('aws', ['--version'], 'install the AWS CLI: `python3 -m pip install --user awscli` (v1), or v2 from https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html');
need('jq', ['--version'], 'install jq (apt-get install jq / brew install jq)');
const vaultBin = (() => {
  // The guide needs the full vault CLI: LAB_VAULT_CLI=1 links it as LAB_DIR/bin/vault (the
  // lab's own server build knows only \`server -dev\` and \`version\`).
  const cli = path.join(labDir(), 'bin', 'vault');
  if (fs.existsSync(cli)) return cli;
  try {
    return readLabConfig().vaultBin ?? 'vault';
  } catch {
    return 'vault';
  }
})();
const vaultVersion = need(vaultBin, ['version'], 'the lab builds it on first use: run `make lab-up` (or put vault on PATH)').split(',')[0]!;
let lab: ReturnType<typeof readLabEnv>;
try {
  lab = readLabEnv();
} catch (e) {
  say(`make bench: ${(e as Error).message}`);
  process.exit(3);
}

// ---- one configuration for every variant: the same names ------------------------------------

const CLUSTER = 'vir-bench';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-bench-'));
const serverRole = lab.vaultServerRoleArn.split('/').pop()!;
const env: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NO_COLOR: '1',
  AWS_ENDPOINT_URL: lab.awsEndpoint,
  AWS_REGION: lab.region,
  AWS_ACCESS_KEY_ID: lab.accessKeyId,
  AWS_SECRET_ACCESS_KEY: lab.secretAccessKey,
  VAULT_ADDR: lab.vaultAddr,
  VAULT_TOKEN: lab.vaultToken,
  VAULT_AWS_ENDPOINT_URL: lab.stsProxyUrl,
  VAULT_BIN: vaultBin,
  // Step 12's web-identity token comes from the lab's issuer (lab/bin/sa-token), as in make lab.
  SA_TOKEN_COMMAND: path.join(root, 'lab', 'bin', 'sa-token'),
  LAB_DIR: lab.labDir,
  CLUSTER_NAME: CLUSTER,
  VAULT_AUTH_MOUNT: 'aws-bench',
  VAULT_KV_MOUNT: 'kv-bench',
  VAULT_POLICY_NAME: 'pol-bench',
  // The lab's Vault runs as this role (its IRSA identity); it exists outside the runbook.
  VAULT_SERVER_ROLE_NAME: serverRole,
  VAULT_SERVER_POLICY_NAME: serverRole,
  STATE_FILE: path.join(work, 'state.json'),
  GLOO_VALUES_FILE: path.join(work, 'helm-overrides.yaml'),
  // A lab with its Kubernetes part puts helm on PATH and exports the stand-in charts: step 10's
  // `helm template` check then renders the local chart, as in `make lab`, instead of adding a
  // chart repository over a network this machine may not have (seconds of DNS failure per run).
  ...(process.env.GLOO_HELM_CHART ? { GLOO_HELM_CHART: process.env.GLOO_HELM_CHART } : {}),
  ...(process.env.VAULT_HELM_CHART ? { VAULT_HELM_CHART: process.env.VAULT_HELM_CHART } : {}),
};

interface Timed {
  ms: number;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[], what: string): Timed {
  const t0 = performance.now();
  // No stdin, as from a terminal user's point of view nothing is piped in: with a socket on
  // stdin bash (make's recipes, guide.sh) would also read ~/.bashrc, which is not the runbook's time.
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) {
    say(`make bench: ${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    cleanup();
    process.exit(1);
  }
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

// runbook/x.ts as the user runs it: dist/runbook/x.js (make bench built it: `deps`).
const js = (file: string, ...args: string[]): string[] => [path.join(root, 'dist', file.replace(/\.ts$/, '.js')), ...args];
const stepFiles = fs.readdirSync(path.join(root, 'runbook')).filter((f) => /^\d\d-.*\.ts$/.test(f) && Number(f.slice(0, 2)) <= 12).sort();
{
  const built = spawnSync('make', ['-s', 'build'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) {
    say(`make bench: make build failed:\n${built.stdout}${built.stderr}`);
    process.exit(1);
  }
}

function teardown(): void {
  exec(process.execPath, js('runbook/teardown.ts', '--yes'), 'runbook teardown');
  fs.rmSync(env.STATE_FILE!, { force: true });
}

function guideCleanup(): void {
  exec(path.join(root, 'bench', 'guide.sh'), ['cleanup'], 'bench/guide.sh cleanup');
}

function cleanup(): void {
  spawnSync(process.execPath, js('runbook/teardown.ts', '--yes'), { cwd: root, env });
  spawnSync(path.join(root, 'bench', 'guide.sh'), ['cleanup'], { cwd: root, env });
  fs.rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface JsonRun {
  ok: boolean;
  steps: { id: string; status: string; ms: number }[];
}
const parseJson = (t: Timed): JsonRun => JSON.parse(t.stdout) as JsonRun;

// ---- the runs ------------------------------------------------------------------------------

say('make bench: the lab install');
const install: InstallFigures | undefined = process.env.BENCH_INSTALL === '0' ? undefined : measureInstall(root, say);
say(`make bench: ${RUNS} runs of each variant on cluster ${CLUSTER} (${awsVersion}; ${vaultVersion})`);
registerCluster(CLUSTER);
await ensureSharedProvider(CLUSTER);
await ensureVaultServerRole();
guideCleanup();
teardown();

const samples = { a: [] as number[], b: [] as number[], c: [] as number[], d: [] as number[], node: [] as number[] };
const loads: number[] = [];
const printWall = new Map<string, number[]>();
const stepWall = new Map<string, number[]>();
const stepInProcess = new Map<string, number[]>();
const flowSteps = new Map<string, number[]>();
let guideCalls = '';

for (let i = 1; i <= RUNS; i++) {
  loads.push(os.loadavg()[0]!);
  samples.node.push(exec(process.execPath, ['-e', '0'], 'node -e 0').ms);

  // (p) print mode: no network, nothing but start-up
  for (const f of stepFiles) {
    const id = f.slice(0, 2);
    const r = exec('make', ['-s', `step-${id}`, 'PRINT=1'], `(p) make step-${id} PRINT=1`);
    printWall.set(id, [...(printWall.get(id) ?? []), r.ms]);
  }

  // (a) the full flow in one process, from nothing
  const a = exec(process.execPath, js('runbook/all.ts', '--yes', '--output', 'json'), '(a) runbook/all.ts');
  if (!parseJson(a).ok) throw new Error('(a) did not succeed');
  samples.a.push(a.ms);
  for (const s of parseJson(a).steps) flowSteps.set(s.id, [...(flowSteps.get(s.id) ?? []), s.ms]);

  // (c) the same again: nothing to do
  const c = exec(process.execPath, js('runbook/all.ts', '--yes', '--output', 'json'), '(c) runbook/all.ts again');
  const changed = parseJson(c).steps.filter((s) => s.status === 'changed');
  if (changed.length) throw new Error(`(c) was not a no-op: ${changed.map((s) => s.id).join(', ')} changed`);
  samples.c.push(c.ms);
  teardown();

  // (b) each step as its own process, as `make step-NN` runs it
  let b = 0;
  for (const f of stepFiles) {
    const id = f.slice(0, 2);
    const r = exec('make', ['-s', `step-${id}`, 'ARGS=--yes --output json'], `(b) make step-${id}`);
    b += r.ms;
    stepWall.set(id, [...(stepWall.get(id) ?? []), r.ms]);
    stepInProcess.set(id, [...(stepInProcess.get(id) ?? []), parseJson(r).steps[0]!.ms]);
  }
  samples.b.push(b);
  teardown();

  // (d) the guide's commands
  const d = exec(path.join(root, 'bench', 'guide.sh'), ['setup'], '(d) bench/guide.sh setup');
  guideCalls = /calls: (.*)/.exec(d.stderr)?.[1] ?? '';
  if (!fs.existsSync(env.GLOO_VALUES_FILE!)) throw new Error('(d) wrote no values file');
  samples.d.push(d.ms);
  guideCleanup();
  say(`  run ${i}/${RUNS}: a ${(a.ms / 1000).toFixed(2)}s  b ${(b / 1000).toFixed(2)}s  c ${(c.ms / 1000).toFixed(2)}s  d ${(d.ms / 1000).toFixed(2)}s`);
}

// ---- API calls per step: counted in this process by lib/calls.ts --------------------------

// The least each step needs, from nothing (create) and when all is in place (no-op), on the
// lab where the OIDC provider and the Vault server role already exist: the reads that decide
// what to do plus the writes. Verification reads are counted apart.
const MINIMUM: Record<string, { fresh: number; noop: number; why: string }> = {
  '01': { fresh: 3, noop: 3, why: 'account, cluster issuer, provider exists? (eksctl does the same)' },
  '02': { fresh: 2, noop: 1, why: 'role exists? + CreateRole' },
  '03': { fresh: 5, noop: 5, why: 'policy exists? + CreatePolicy + AttachRolePolicy; server role + its inline policy read (no-op: + policy document + attachments)' },
  '04': { fresh: 1, noop: 1, why: 'sys/health' },
  '05': { fresh: 2, noop: 1, why: 'sys/auth + enable' },
  '06': { fresh: 2, noop: 1, why: 'sys/mounts + enable' },
  '07': { fresh: 2, noop: 1, why: 'read policy + write' },
  '08': { fresh: 2, noop: 1, why: 'read config/client + write' },
  '09': { fresh: 2, noop: 1, why: 'read role + write' },
  '10': { fresh: 0, noop: 0, why: 'a file' },
  '11': { fresh: 0, noop: 0, why: 'skipped: no cluster' },
  '12': { fresh: 5, noop: 5, why: 'AssumeRoleWithWebIdentity, login, KV write, read, delete' },
};

const config = (() => {
  const { config, problems } = parseConfig(env);
  if (problems.length) throw new Error(problems.join('; '));
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_PROFILE;
  // The variants run without KUBECONFIG (env above): so does the count, or a lab started with
  // LAB_K8S=1 (as make test leaves it) would make step 11 install Gloo from the network here.
  delete process.env.KUBECONFIG;
  return config;
})();

interface Count {
  id: string;
  fresh: { reads: number; writes: number };
  noop: { reads: number; writes: number };
  verify: number;
}

/** Each step three times, in this process: from nothing, again (no-op), again with its verification. */
async function countCalls(): Promise<Count[]> {
  const out: Count[] = [];
  const restore = captureOutput(() => undefined);
  const pass = async (step: Awaited<ReturnType<typeof loadSteps>>[number], verify: boolean) => {
    resetCalls();
    await runSteps([step], { mode: 'apply', yes: true, output: 'text', config, verify });
    const calls = [...callLog()];
    return { reads: calls.filter((c) => !c.mutating).length, writes: calls.filter((c) => c.mutating).length, all: calls.length };
  };
  try {
    for (const step of await loadSteps({ to: 12 })) {
      const fresh = await pass(step, false);
      const noop = await pass(step, false);
      const verified = await pass(step, true);
      out.push({ id: step.id, fresh: { reads: fresh.reads, writes: fresh.writes }, noop: { reads: noop.reads, writes: noop.writes }, verify: verified.all - noop.all });
    }
  } finally {
    restore();
  }
  return out;
}

teardown();
const counted = await countCalls();
teardown();
cleanup();

// ---- results -------------------------------------------------------------------------------

const med = { a: median(samples.a), b: median(samples.b), c: median(samples.c), d: median(samples.d), node: median(samples.node) };
const ratios = { 'a/d': med.a / med.d, 'c/a': med.c / med.a, 'b/a': med.b / med.a };
const perStep = stepFiles.map((f) => {
  const id = f.slice(0, 2);
  const wall = median(stepWall.get(id)!);
  const inStep = median(stepInProcess.get(id)!);
  const startup = wall - inStep;
  const print = median(printWall.get(id)!);
  return { id, file: f, wallMs: wall, inStepMs: inStep, startupMs: startup, startupOverNode: startup / med.node, printMs: print, printOverNode: print / med.node, inFlowMs: median(flowSteps.get(id) ?? [0]) };
});
const worst = <T>(xs: T[], by: (x: T) => number): T => xs.reduce((w, x) => (by(x) > by(w) ? x : w));
const slowStart = worst(perStep, (p) => p.startupOverNode);
const slowPrint = worst(perStep, (p) => p.printOverNode);
const inFlow = (id: string) => perStep.find((p) => p.id === id)?.inFlowMs ?? 0;
const range = (xs: number[], f: (n: number) => string) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

// The targets of issue 11, each next to its figure; `met` is what the table shows.
const TARGETS = [
  { figure: 'start-up of one `make step-NN` over bare `node -e 0` (the slowest step)', value: slowStart.startupOverNode, target: 5, unit: '×', detail: `${range(perStep.map((p) => p.startupMs), (n) => (n / 1000).toFixed(2))} s, ${range(perStep.map((p) => p.startupOverNode), (n) => n.toFixed(1))}×; slowest step ${slowStart.id}` },
  { figure: 'full flow, one process (a) over the guide\'s commands (d): a/d', value: ratios['a/d'], target: 0.1, unit: '×', detail: `${(med.a / 1000).toFixed(2)} s vs ${(med.d / 1000).toFixed(2)} s` },
  { figure: 'no-op re-run (c) over the first run (a): c/a', value: ratios['c/a'], target: 0.5, unit: '×', detail: `${(med.c / 1000).toFixed(2)} s vs ${(med.a / 1000).toFixed(2)} s` },
  { figure: 'one process per step (b) over one process (a): b/a', value: ratios['b/a'], target: 3, unit: '×', detail: `${(med.b / 1000).toFixed(2)} s vs ${(med.a / 1000).toFixed(2)} s` },
  { figure: 'step 10 inside `make all` (no API call)', value: inFlow('10') / 1000, target: 0.02, unit: ' s', detail: '' },
  { figure: 'step 11 inside `make all` (no API call)', value: inFlow('11') / 1000, target: 0.02, unit: ' s', detail: '' },
  { figure: '`make step-NN PRINT=1` (no network) over bare `node -e 0` (the slowest step)', value: slowPrint.printOverNode, target: 5, unit: '×', detail: `${range(perStep.map((p) => p.printMs), (n) => (n / 1000).toFixed(2))} s; slowest step ${slowPrint.id}` },
].map((t) => ({ ...t, met: t.value <= t.target }));
const calls = counted.map((c) => {
  const m = MINIMUM[c.id] ?? { fresh: 0, noop: 0, why: '' };
  return { id: c.id, fresh: { ...c.fresh, verify: c.verify, minimum: m.fresh }, noop: { ...c.noop, verify: c.verify, minimum: m.noop }, minimumIs: m.why };
});
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${cpu.replace(/\s+/g, ' ').trim()}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
// What else the machine was doing: the 1-minute load average at the start of each run.
const load = { min: Math.min(...loads), max: Math.max(...loads) };
const date = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

const results = {
  date,
  machine,
  runs: RUNS,
  tools: { aws: awsVersion, vault: vaultVersion },
  lab: { moto: lab.awsEndpoint, vault: lab.vaultAddr, cluster: CLUSTER },
  medianMs: med,
  ratios,
  targets: TARGETS,
  loadAverage1m: loads,
  guideCalls,
  samplesMs: samples,
  perStep,
  calls,
  install,
};
fs.writeFileSync(path.join(root, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const x = (r: number) => `${r.toFixed(2)}×`;
const totalCalls = (c: { reads: number; writes: number; verify: number }) => c.reads + c.writes + c.verify;
const fig = (t: (typeof TARGETS)[number]) => (t.unit === '×' ? x(t.value) : `${t.value.toFixed(3)} s`);
const md = [
  `Measured ${date} on ${machine} (1-minute load average ${load.min.toFixed(1)}–${load.max.toFixed(1)}); median of ${RUNS} runs each against the lab (moto; ${vaultVersion}); ${awsVersion.split(' ')[0]} for the guide. Every variant runs the bundle in dist/ as \`make\` does. \`make bench\` regenerates this.`,
  '',
  '| figure | measured | target | met |',
  '| --- | --- | --- | --- |',
  ...TARGETS.map((t) => `| ${t.figure} | ${fig(t)}${t.detail ? ` (${t.detail})` : ''} | ≤ ${t.unit === '×' ? `${t.target}×` : `${t.target} s`} | ${t.met ? 'yes' : '**no**'} |`),
  '',
  '| variant | what | median |',
  '| --- | --- | --- |',
  `| a | full flow, one process (\`make all\`: steps 01-12, verify included), from nothing | ${s(med.a)} |`,
  `| b | the same steps, one process each (\`make step-NN\`), from nothing | ${s(med.b)} |`,
  `| c | no-op re-run of the full flow | ${s(med.c)} |`,
  `| d | the guide's commands (bench/guide.sh: ${guideCalls.replace('aws', 'aws CLI').replace('vault', '+ vault CLI')} commands; no verification) | ${s(med.d)} |`,
  `| — | bare \`node -e 0\` | ${s(med.node)} |`,
  '',
  `Ratios: **a/d ${x(ratios['a/d'])}**, **c/a ${x(ratios['c/a'])}**, **b/a ${x(ratios['b/a'])}**.`,
  '',
  `What bounds c/a and b/a here: what a's writes add to a no-op run (a − c) is ${s(med.a - med.c)}, and c/a ≤ 0.5 needs c ≤ a − c; the ${perStep.length} processes of b spend ${s(perStep.reduce((t, p) => t + p.startupMs, 0))} starting (make, Node and the compiled code, ${s(perStep.length * med.node)} of it a bare \`node -e 0\` each) before any step runs, against 3a = ${s(3 * med.a)}.`,
  '',
  '| step | `make step-NN` | in the step | process start-up | start-up / `node -e 0` | `PRINT=1` / `node -e 0` | in `make all` | API calls from nothing (reads + writes + verify / minimum) | API calls, no-op (reads + writes + verify / minimum) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...perStep.map((p, i) => {
    const c = calls[i]!;
    return `| ${p.id} | ${s(p.wallMs)} | ${s(p.inStepMs)} | ${s(p.startupMs)} | ${x(p.startupOverNode)} | ${x(p.printOverNode)} | ${(p.inFlowMs / 1000).toFixed(3)} s | ${c.fresh.reads} + ${c.fresh.writes} + ${c.fresh.verify} = ${totalCalls(c.fresh)} / ${c.fresh.minimum} | ${c.noop.reads} + ${c.noop.writes} + ${c.noop.verify} = ${totalCalls(c.noop)} / ${c.noop.minimum} |`;
  }),
  '',
  ...(install ? installTable(install) : ['Lab install figures: not measured in this run (BENCH_INSTALL=0).']),
  '',
  'Start-up is the wall time of `make step-NN` less the time the step itself reports; it includes make, Node and loading the step\'s modules (a dependency loaded when a step first calls it counts in the step). `PRINT=1` is the whole wall time of `make step-NN PRINT=1`. "Minimum" counts the reads that decide what to do plus the writes (bench/run.ts, MINIMUM); verification reads are extra, by design.',
].join('\n');
fs.writeFileSync(path.join(root, 'bench', 'RESULTS.md'), `# Benchmarks\n\n${md}\n`);

const readme = path.join(root, 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const start = '<!-- bench:start -->';
const end = '<!-- bench:end -->';
if (text.includes(start) && text.includes(end)) {
  fs.writeFileSync(readme, `${text.slice(0, text.indexOf(start) + start.length)}\n${md}\n${text.slice(text.indexOf(end))}`);
}

process.stdout.write(`${md}\n\nwrote bench/results.json, bench/RESULTS.md and the README section\n`);
