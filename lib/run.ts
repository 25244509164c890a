// The runner: the same sequence for every step, whether run alone
// (`make step-03`) or all in one process (`make all`).
import readline from 'node:readline/promises';
import { loadConfig, readDotEnv, type Config } from './config.js';
import { State, acquireLock, type StateKey } from './state.js';
import { awsClients, type AwsClients } from './aws.js';
import { Vault } from './vault.js';
import { reachVault, requireVaultToken } from './vault-reach.js';
import { loadSteps } from './steps.js';
import { ConfigError, ConfirmationError, ExitCode, PrerequisiteError, RunbookError, formatError } from './errors.js';
import * as log from './log.js';
import { early } from './early.js';
import { liveRefValues, shellRefValues, type Action, type Ctx, type Mode, type Step } from './step.js';
import { score } from './check.js';

export interface RunOptions {
  mode: Mode;
  yes: boolean;
  output: 'text' | 'json';
  /** Given by tests; otherwise read from the environment and .env. */
  config?: Config;
  /** Verify after apply (default true). */
  verify?: boolean;
  /** Grade (issue 16, lib/check.ts): a dry run that ends with a verdict per step; a missing prerequisite is a difference. */
  check?: boolean;
}

export interface ActionResult {
  what: string;
  outcome: log.Outcome;
  ms: number;
  note?: string;
}

export interface StepResult {
  id: string;
  title: string;
  /** `verified`: a step with nothing to change whose proof passed (step 12). */
  status: 'changed' | 'unchanged' | 'skipped' | 'planned' | 'printed' | 'verified' | 'failed';
  actions: ActionResult[];
  verified?: string;
  ms: number;
  error?: string;
}

export class RunFailure extends Error {
  constructor(override readonly cause: unknown, readonly results: StepResult[]) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export function parseArgs(argv: string[], env: Record<string, string | undefined> = process.env): RunOptions {
  const truthy = (v: string | undefined): boolean => v !== undefined && /^(1|true|yes)$/i.test(v);
  const opts: RunOptions = {
    mode: truthy(env.PRINT) ? 'print' : truthy(env.DRY_RUN) ? 'dry-run' : 'apply',
    yes: truthy(env.YES) || truthy(env.CI),
    output: env.OUTPUT === 'json' ? 'json' : 'text',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') opts.mode = 'dry-run';
    else if (a === '--print') opts.mode = 'print';
    else if (a === '--yes' || a === '-y') opts.yes = true;
    else if (a === '--output' || a === '-o') opts.output = argv[++i] === 'json' ? 'json' : 'text';
    else if (a === '--output=json') opts.output = 'json';
    else if (a === '--no-verify') opts.verify = false;
    else if (a === '--check') Object.assign(opts, { mode: 'dry-run', check: true }); // issue 16: grading
    else throw new ConfigError(`unknown option "${a}": use --dry-run, --print, --check, --yes, --output json or --no-verify`);
  }
  return opts;
}

const pastTense: Record<'create' | 'update' | 'delete', log.Outcome> = { create: 'created', update: 'updated', delete: 'deleted' };
const futureTense: Record<'create' | 'update' | 'delete', log.Outcome> = { create: 'would create', update: 'would update', delete: 'would delete' };

async function confirm(question: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new ConfirmationError(`${question} — refusing without confirmation: run again with --yes (or YES=1)`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new ConfirmationError(`${question} — not confirmed, nothing changed`);
}

export function makeCtx(config: Config, state: State, mode: Mode, yes: boolean): Ctx {
  let aws: AwsClients | undefined;
  let reached: Promise<Vault> | undefined;
  let vault: Vault | undefined;
  // VAULT_ADDR tried once, without a port-forward (reachEarly); reach() starts from it.
  let direct: Promise<Vault | undefined> | undefined;
  return {
    config,
    state,
    mode,
    yes,
    stepId: '',
    get aws() {
      if (mode === 'print') throw new Error('print mode must not call AWS');
      return (aws ??= awsClients(config));
    },
    get vault() {
      if (!vault) throw new Error('this step uses Vault without declaring `vault`: the runner reaches Vault only for steps that do');
      return vault;
    },
    async reach() {
      if (mode === 'print') throw new Error('print mode must not call Vault');
      reached ??= (direct ? direct.then((v) => v ?? reachVault(config)) : reachVault(config)).catch((err: unknown) => {
        reached = undefined;
        throw err;
      });
      return (vault = await reached);
    },
    reachEarly() {
      if (mode === 'print') return Promise.resolve(undefined);
      if (reached) return reached.catch(() => undefined);
      direct ??= (async () => {
        const v = new Vault(config);
        try {
          await v.health();
          return v;
        } catch {
          return undefined;
        }
      })();
      return direct;
    },
  };
}

/**
 * Who provides a need: a step of this run, or an earlier step of the registry. Only
 * earlier files are loaded: the step being run as a script is still loading itself.
 */
async function providerOf(step: Step, key: StateKey, running: Step[]): Promise<Step | undefined> {
  const provides = (s: Step): boolean => Boolean(s.provides?.some((o) => o.key === key));
  const here = running.find(provides);
  if (here) return here;
  const n = Number(step.owner ?? step.id);
  return Number.isInteger(n) ? (await loadSteps({ to: n - 1 })).find(provides) : undefined;
}

async function resolveNeeds(step: Step, ctx: Ctx, running: Step[]): Promise<void> {
  for (const key of step.needs ?? []) {
    if (ctx.state.get(key)) continue;
    const provider = await providerOf(step, key, running);
    const output = provider?.provides?.find((o) => o.key === key);
    const found = output?.recover ? await output.recover(ctx) : undefined;
    if (found) {
      ctx.state.set({ [key]: found });
      log.action('ok', `recovered ${key} from live state`, undefined, found);
      continue;
    }
    const by = provider?.id ?? '??';
    throw new PrerequisiteError(`step ${step.id} (${step.title}) needs ${key}, which step ${by} produces: run \`make step-${by}\` first`, by);
  }
}

async function runOne(step: Step, ctx: Ctx, opts: RunOptions, running: Step[]): Promise<StepResult> {
  const started = performance.now();
  log.header(step.id, step.title);
  const result: StepResult = { id: step.id, title: step.title, status: 'unchanged', actions: [], ms: 0 };

  if (opts.mode === 'print') {
    for (const c of step.reference(shellRefValues(ctx.config))) {
      log.line(c);
      log.line('');
    }
    result.status = 'printed';
    result.ms = performance.now() - started;
    return result;
  }

  ctx.stepId = step.owner ?? step.id;
  await resolveNeeds(step, ctx, running);
  if (step.vault) {
    if (step.vault === 'token') requireVaultToken(ctx.config);
    await ctx.reach();
  }

  const actions: Action[] = await step.check(ctx);
  let changed = false;
  let skipped = actions.length > 0;
  for (const a of actions) {
    const t0 = performance.now();
    if (a.change === 'none' || a.change === 'skip') {
      const outcome: log.Outcome = a.change === 'none' ? 'unchanged' : 'skipped';
      if (a.change === 'none') skipped = false;
      log.action(outcome, a.what, undefined, a.note);
      result.actions.push({ what: a.what, outcome, ms: 0, ...(a.note ? { note: a.note } : {}) });
      continue;
    }
    skipped = false;
    if (opts.mode === 'dry-run') {
      log.action(futureTense[a.change], a.what, undefined, a.note);
      if (a.diff) log.block(a.diff);
      if (a.commands?.length) {
        log.line('      # to do it by hand:');
        for (const c of a.commands) log.block(c, '      ');
      }
      result.actions.push({ what: a.what, outcome: futureTense[a.change], ms: 0, ...(a.note ? { note: a.note } : {}) });
      changed = true;
      continue;
    }
    if (a.diff) {
      log.line(`  drift on ${a.what}:`);
      log.block(a.diff);
    }
    if (a.destructive) await confirm(`${a.change} ${a.what}?`, opts.yes);
    await a.apply?.();
    const ms = performance.now() - t0;
    log.action(pastTense[a.change], a.what, ms, a.note);
    result.actions.push({ what: a.what, outcome: pastTense[a.change], ms, ...(a.note ? { note: a.note } : {}) });
    changed = true;
  }

  result.status = changed ? (opts.mode === 'dry-run' ? 'planned' : 'changed') : skipped ? 'skipped' : 'unchanged';
  if (opts.mode === 'apply' && opts.verify !== false && step.verify && result.status !== 'skipped') {
    const t0 = performance.now();
    result.verified = await step.verify(ctx);
    log.action('ok', `verified: ${result.verified}`, performance.now() - t0);
    if (actions.length === 0) result.status = 'verified';
  }
  result.ms = performance.now() - started;
  return result;
}

/** Run steps in order in this process. Throws RunFailure carrying the results so far. */
export async function runSteps(steps: Step[], opts: RunOptions): Promise<StepResult[]> {
  const results: StepResult[] = [];
  let release: (() => void) | undefined;
  try {
    const config = opts.config ?? loadConfig();
    const state = new State(config.stateFile, config, opts.mode === 'apply');
    if (opts.mode === 'apply') release = acquireLock(state.key);
    const ctx = makeCtx(config, state, opts.mode, opts.yes);
    if (opts.mode === 'dry-run') log.line(log.paint('cyan', 'dry run: live state is read, nothing is written'));
    // Processes steps will wait for, first (Step.startEarly); their spawn is the last of
    // this turn's microtasks, so the next turn (setImmediate) begins with them running.
    if (opts.mode !== 'print' && steps.some((s) => s.startEarly)) {
      for (const step of steps) if (step.startEarly) early(Promise.resolve().then(() => step.startEarly!(ctx)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Every step's independent reads at once (Step.prefetch); print mode reads nothing.
    if (opts.mode !== 'print' && steps.length > 1) {
      for (const step of steps) if (step.prefetch) early(Promise.resolve().then(() => step.prefetch!(ctx)));
    }
    for (const step of steps) {
      try {
        results.push(await runOne(step, ctx, opts, steps));
      } catch (err) {
        results.push({ id: step.id, title: step.title, status: 'failed', actions: [], ms: 0, error: formatError(err).text });
        // Grading (issue 16): a step whose prerequisite is missing differs; the others are still graded.
        if (opts.check && err instanceof PrerequisiteError) continue;
        throw err;
      }
    }
    return results;
  } catch (err) {
    throw new RunFailure(err, results);
  } finally {
    release?.();
  }
}

/** Pure: the final summary table. */
export function formatSummary(results: StepResult[]): string {
  const rows = [['step', 'title', 'outcome', 'actions', 'time']];
  for (const r of results) {
    const counts = new Map<string, number>();
    for (const a of r.actions) counts.set(a.outcome, (counts.get(a.outcome) ?? 0) + 1);
    const acts = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || '-';
    rows.push([r.id, r.title, r.status, acts, log.formatMs(r.ms)]);
  }
  return log.formatTable(rows);
}

/** Entry point of every runbook script: parse, run, print, exit with the right code. */
export async function main(steps: Step[], argv: string[] = process.argv.slice(2)): Promise<void> {
  let results: StepResult[] = [];
  let code = 0;
  let opts: RunOptions | undefined;
  try {
    Object.assign(process.env, { ...readDotEnv(), ...process.env });
    opts = parseArgs(argv);
    log.setJsonMode(opts.output === 'json');
    results = await runSteps(steps, opts);
  } catch (err) {
    const cause = err instanceof RunFailure ? err.cause : err;
    if (err instanceof RunFailure) results = err.results;
    const f = formatError(cause);
    code = f.exitCode;
    // A table is worth it for a multi-step run; for one step the error says it all.
    if (results.length > 1) log.line('\n' + formatSummary(results));
    log.errorLine(f.text);
    if (!(cause instanceof RunbookError)) code = f.exitCode;
  }
  if (code === 0 && results.length > 1) log.line('\n' + formatSummary(results));
  // ---- drift exit code (issue 16) ----
  const drift = code === 0 && opts?.mode === 'dry-run' ? driftOf(results) : undefined;
  if (drift) {
    code = ExitCode.drift;
    log.line(`\n${drift} (exit ${ExitCode.drift})`);
  }
  // ---- end drift exit code ----
  // ---- check: grading hand-typed work (issue 16, lib/check.ts) ----
  let graded: ReturnType<typeof score> | undefined;
  if (opts?.check && (code === 0 || code === ExitCode.drift)) {
    graded = score(results);
    log.line(`\n${graded.lines.join('\n')}`);
    code = graded.ok ? 0 : ExitCode.drift;
  }
  // ---- end check ----
  if (opts?.output === 'json') log.json({ ok: code === 0 || code === ExitCode.drift, exitCode: code, ...(opts.mode === 'dry-run' ? { drift: code === ExitCode.drift } : {}), ...(graded ? { check: { graded: graded.graded, matching: graded.matching, grades: graded.grades } } : {}), steps: results });
  process.exitCode = code;
}

/**
 * Pure: what a clean dry run would change, as one sentence, or undefined when
 * nothing would (as `terraform plan -detailed-exitcode`: CI and cron tell drift
 * from "in sync" by the exit code alone, ExitCode.drift).
 */
export function driftOf(results: StepResult[]): string | undefined {
  const planned = results.filter((r) => r.status === 'planned');
  if (!planned.length) return undefined;
  const n = planned.reduce((k, r) => k + r.actions.filter((a) => a.outcome.startsWith('would ')).length, 0);
  return `drift: ${n} change${n === 1 ? '' : 's'} would be made, in step${planned.length === 1 ? '' : 's'} ${planned.map((r) => r.id).join(', ')}`;
}
