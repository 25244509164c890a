// `make reference`: docs/RUNBOOK.md, every step's manual commands in order,
// generated from the step definitions so the printed reference cannot drift.
import { loadSteps } from '../lib/steps.js';
import { renderReference } from '../lib/reference.js';

process.stdout.write(renderReference(await loadSteps()));
