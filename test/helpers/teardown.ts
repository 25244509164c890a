// The teardown list `make teardown` runs (runbook/teardown.ts), for tests that run it in
// process: every step's own delete, in reverse order. runbook/teardown.ts has no top-level
// await (its bundle is CommonJS: build.mjs), so the list is built here.
import { loadSteps, teardownSteps as teardownOf } from '../../lib/steps.js';

export const teardownSteps = teardownOf(await loadSteps());
