// Which lab mode `make lab` runs without LAB_MODE (lab/lib/mode.ts pickMode, a pure
// function of the machine's facts): process mode wherever its tools are or can be
// installed, Docker mode only where they cannot and Docker runs, one line of why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickMode, processPossible, type ModeFacts } from '../lab/lib/mode.js';

const machine = (f: Partial<ModeFacts>): ModeFacts => ({ python3: true, go: true, vaultOnPath: false, ...f });
const dockerUp = { ok: true } as const;
const dockerDown = { ok: false, short: 'the Docker engine does not answer (Cannot connect to the Docker daemon at unix:///var/run/docker.sock.)' } as const;

test('LAB_MODE set: that mode, whatever the machine has', () => {
  assert.equal(pickMode(machine({ requested: 'docker', go: false, python3: false })), { mode: 'docker', why: 'LAB_MODE=docker' });
  assert.equal(pickMode(machine({ requested: 'process', docker: dockerUp })), { mode: 'process', why: 'LAB_MODE=process' });
});

test('python3 and go here: process mode, also when Docker runs', () => {
  for (const docker of [undefined, dockerUp, dockerDown]) {
    const c = pickMode(machine({ docker }));
    assert.is(c.mode, 'process');
    assert.match(c.why, /^LAB_MODE unset: python3 and go are on PATH/);
  }
});

test('vault on PATH stands in for go', () => {
  const c = pickMode(machine({ go: false, vaultOnPath: true }));
  assert.is(c.mode, 'process');
  assert.match(c.why, /python3 and vault are on PATH/);
});

test('no go (and no vault) but Docker runs: Docker mode, naming what the process lab lacks', () => {
  const c = pickMode(machine({ go: false, docker: dockerUp }));
  assert.equal(c, { mode: 'docker', why: 'LAB_MODE unset: go (or vault on PATH) missing for the process lab, and Docker runs' });
  assert.is(pickMode(machine({ python3: false, docker: dockerUp })).mode, 'docker');
  assert.match(pickMode(machine({ python3: false, go: false, docker: dockerUp })).why, /python3 and go \(or vault on PATH\) missing/);
});

test('neither mode can run: one sentence naming what to install for each', () => {
  const c = pickMode(machine({ go: false, docker: dockerDown }));
  assert.is(c.mode, 'none');
  assert.match(c.why, /^no lab mode can run here: the process lab needs go \(or vault on PATH\) \(install them: .*\), and Docker mode needs a running Docker engine \(the Docker engine does not answer \(Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\.\)\)$/);
  assert.not.match(c.why, /\n/);
});

test('processPossible lists exactly what is missing', () => {
  assert.equal(processPossible({ python3: true, go: true, vaultOnPath: false }), { ok: true, missing: [] });
  assert.equal(processPossible({ python3: false, go: false, vaultOnPath: true }), { ok: false, missing: ['python3'] });
  assert.equal(processPossible({ python3: false, go: false, vaultOnPath: false }), { ok: false, missing: ['python3', 'go (or vault on PATH)'] });
});

test.run();
