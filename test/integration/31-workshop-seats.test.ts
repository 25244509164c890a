// Two workshop participants on one machine (docs/WORKSHOP.md): each seat's lab
// (lab/bin/seat: own folder, own ports) goes through a full flow at the same
// time, then a scenario; a break in one seat leaves the other untouched, and
// each answer repairs its own seat. Seats 61 and 62 (ports 21610-21623).
// run.ts lane: own (about 16 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seat, type Seat } from '../../lab/lib/seat.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-seats-'));
const seats: Seat[] = [seat(61, base), seat(62, base)];

function envOf(s: Seat): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...s.env };
  for (const k of ['LAB_CACHE', 'TMPDIR', 'XDG_CACHE_HOME']) if (process.env[k]) env[k] = process.env[k];
  return env;
}

function sh(s: Seat, cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const p = spawn(cmd, args, { cwd: root, env: envOf(s) });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => done({ code: code ?? -1, out }));
  });
}

/** As a participant does it: the seat's lab environment loaded, then make. */
const make = (s: Seat, ...args: string[]) => sh(s, 'sh', ['-c', 'lab_env="$(lab/bin/env)" && eval "$lab_env" && exec make -s "$@"', 'make', ...args]);
const brk = (s: Seat, ...args: string[]) => sh(s, path.join(root, 'lab', 'bin', 'break'), args);

test.after(() => {
  for (const s of seats) spawnSync(path.join(root, 'lab', 'bin', 'down'), { cwd: root, env: envOf(s) });
  fs.rmSync(base, { recursive: true, force: true });
});

test('two seats: own labs side by side, each through a full flow at the same time', async () => {
  for (const s of seats) {
    const up = await sh(s, path.join(root, 'lab', 'bin', 'up'), []);
    assert.is(up.code, 0, up.out);
    assert.match(up.out, `(${s.env.LAB_DIR})`);
  }
  const flows = await Promise.all(seats.map((s) => make(s, 'lab')));
  for (const [i, f] of flows.entries()) {
    assert.is(f.code, 0, f.out);
    assert.match(f.out, 'all 5 links hold', `seat ${seats[i]!.n}`);
    assert.match(f.out, `127.0.0.1:${seats[i]!.env.LAB_STS_PROXY_PORT}`, 'its own lab');
    assert.ok(fs.existsSync(seats[i]!.env.STATE_FILE!), 'state in the seat folder');
    assert.ok(fs.existsSync(seats[i]!.env.GLOO_VALUES_FILE!), 'values in the seat folder');
  }
});

test('a scenario in each seat: a break in one leaves the other whole; each answer repairs its own seat', async () => {
  const [a, b] = seats as [Seat, Seat];
  const ba = await brk(a, 'server-id-mismatch');
  assert.is(ba.code, 0, ba.out);
  const va = await make(a, 'verify');
  assert.is(va.code, 2, va.out); // make's own code; the runbook's is in the text
  assert.match(va.out, 'link 4 (Vault login');
  assert.match(va.out, 'Error 6');
  const vb = await make(b, 'verify');
  assert.is(vb.code, 0, `seat ${b.n} is not touched by seat ${a.n}'s break\n${vb.out}`);

  const bb = await brk(b, 'iam-role-recreated');
  assert.is(bb.code, 0, bb.out);
  const vb2 = await make(b, 'verify');
  assert.match(vb2.out, 'link 4 (Vault login');

  for (const [s, name] of [[a, 'server-id-mismatch'], [b, 'iam-role-recreated']] as const) {
    const ans = await brk(s, '--apply-answer', name);
    assert.is(ans.code, 0, ans.out);
    const v = await make(s, 'verify');
    assert.is(v.code, 0, `seat ${s.n} after the answer\n${v.out}`);
  }
});

test.run();
