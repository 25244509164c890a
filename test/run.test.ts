// The runner's prefetch: every step's independent reads sent at the start of a
// multi-step run that reads (never in print mode, never for one step), their failures
// left to check(); startEarly before them (one step or many: step 12's token process); and reachEarly: VAULT_ADDR when it answers, never a port-forward,
// never an error, the same Vault reach() then returns.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../lib/config.js';
import { makeCtx, runSteps } from '../lib/run.js';
import { State } from '../lib/state.js';
import { captureOutput } from '../lib/log.js';
import { defineStep, type Step } from '../lib/step.js';

process.env.VAULT_IRSA_LOCK_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-locks-'));

function config(extra: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-run-'));
  const { config, problems } = parseConfig({ AWS_REGION: 'us-east-1', STATE_FILE: path.join(dir, 'state.json'), VAULT_ADDR: 'http://127.0.0.1:1', ...extra });
  assert.equal(problems, []);
  return config;
}

/** Steps that log when their prefetch and check run; the second's prefetch fails. */
function steps(log: string[]): Step[] {
  const mk = (id: string, fail: boolean): Step =>
    defineStep({
      id,
      name: `s${id}`,
      title: `step ${id}`,
      reference: () => [],
      prefetch: async () => {
        log.push(`prefetch ${id}`);
        if (fail) throw new Error('prefetch failed');
      },
      check: async () => {
        log.push(`check ${id}`);
        return [{ what: `thing ${id}`, change: 'none' }];
      },
    });
  return [mk('01', false), mk('02', true)];
}

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const restore = captureOutput(() => undefined);
  try {
    return await fn();
  } finally {
    restore();
  }
}

test('a multi-step run sends every prefetch before the first check; a failed prefetch is left to check()', async () => {
  const log: string[] = [];
  let unhandled: unknown;
  const onUnhandled = (e: unknown) => (unhandled = e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const results = await quiet(() => runSteps(steps(log), { mode: 'apply', yes: true, output: 'text', config: config() }));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(results.map((r) => r.status), ['unchanged', 'unchanged']);
    assert.equal(log, ['prefetch 01', 'prefetch 02', 'check 01', 'check 02']);
    assert.is(unhandled, undefined);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('no prefetch for one step, nor in print mode; a dry run prefetches', async () => {
  const one: string[] = [];
  await quiet(() => runSteps(steps(one).slice(0, 1), { mode: 'apply', yes: true, output: 'text', config: config() }));
  assert.equal(one, ['check 01']);
  const printed: string[] = [];
  await quiet(() => runSteps(steps(printed), { mode: 'print', yes: true, output: 'text', config: config() }));
  assert.equal(printed, []);
  const dry: string[] = [];
  await quiet(() => runSteps(steps(dry), { mode: 'dry-run', yes: true, output: 'text', config: config() }));
  assert.equal(dry.slice(0, 2), ['prefetch 01', 'prefetch 02']);
});

test('startEarly runs before every prefetch and check, one step or many, and what it starts behind microtasks is started before the first prefetch; never in print mode', async () => {
  // startEarly loads zx before it spawns (microtasks, as a bundled import is): the spawn
  // must come before any prefetch, which would load its clients first otherwise.
  const mk = (log: string[], id: string, early: boolean): Step =>
    defineStep({
      id,
      name: `s${id}`,
      title: `step ${id}`,
      reference: () => [],
      ...(early
        ? {
            startEarly: async () => {
              log.push(`start ${id}`);
              for (let i = 0; i < 5; i++) await Promise.resolve();
              log.push(`spawned ${id}`);
            },
          }
        : {}),
      prefetch: async () => {
        log.push(`prefetch ${id}`);
      },
      check: async () => {
        log.push(`check ${id}`);
        return [{ what: `thing ${id}`, change: 'none' }];
      },
    });
  const many: string[] = [];
  await quiet(() => runSteps([mk(many, '01', false), mk(many, '12', true)], { mode: 'apply', yes: true, output: 'text', config: config() }));
  assert.equal(many, ['start 12', 'spawned 12', 'prefetch 01', 'prefetch 12', 'check 01', 'check 12']);
  const one: string[] = [];
  await quiet(() => runSteps([mk(one, '12', true)], { mode: 'apply', yes: true, output: 'text', config: config() }));
  assert.equal(one, ['start 12', 'spawned 12', 'check 12']);
  const printed: string[] = [];
  await quiet(() => runSteps([mk(printed, '12', true)], { mode: 'print', yes: true, output: 'text', config: config() }));
  assert.equal(printed, []);
});

test('reachEarly: undefined where VAULT_ADDR does not answer (reach() still reports it), never in print mode', async () => {
  const c = config();
  const ctx = makeCtx(c, new State(c.stateFile, c, false), 'dry-run', false);
  assert.is(await ctx.reachEarly(), undefined);
  const err = await ctx.reach().then(() => undefined, (e: unknown) => e);
  assert.match(String((err as Error)?.message), /does not answer/);
  const printing = makeCtx(c, new State(c.stateFile, c, false), 'print', false);
  assert.is(await printing.reachEarly(), undefined);
});

test('reachEarly: the Vault at VAULT_ADDR that answers, the same one reach() returns, health asked once', async () => {
  let health = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/v1/sys/health')) health++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ initialized: true, sealed: false, version: '1.21.4' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const c = config({ VAULT_ADDR: `http://127.0.0.1:${(server.address() as { port: number }).port}`, VAULT_TOKEN: 'test-token' });
    const ctx = makeCtx(c, new State(c.stateFile, c, false), 'dry-run', false);
    const early = await ctx.reachEarly();
    assert.ok(early);
    assert.is(await ctx.reach(), early);
    assert.is(ctx.vault, early);
    assert.is(health, 1);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test.run();
