// `make teardown`: every step's own delete, in reverse order of the steps
// (lib/steps.ts teardownSteps). Each step deletes only what it recorded as
// created (or recognises by the runbook's tag or description), reads first so
// a second run deletes nothing, and asks unless --yes.
import { loadSteps, teardownSteps as fromSteps } from '../lib/steps.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

// No top-level await: the bundle is CommonJS (build.mjs). Tests build the same list from
// lib/steps.ts (teardownSteps(await loadSteps())).
if (isMain(import.meta.url)) void loadSteps().then((steps) => main(fromSteps(steps)));
