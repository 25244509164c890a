// `make reference`: docs/RUNBOOK.md, every step's manual commands in order,
// generated from the step definitions so the printed reference cannot drift.
// `--env`: for the configuration in the environment and .env instead of the
// example (e.g. the lab's: eval "$(lab/bin/env)" first), to stdout.
import { loadSteps } from '../lib/steps.js';
import { renderReference } from '../lib/reference.js';
import { readDotEnv } from '../lib/config.js';

const fromEnv = process.argv.includes('--env');
// No top-level await: the bundle is CommonJS (build.mjs).
void loadSteps().then((steps) => process.stdout.write(renderReference(steps, fromEnv ? { ...readDotEnv(), ...process.env } : undefined)));
