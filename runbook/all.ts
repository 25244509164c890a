// `make all`: steps 01-12 in order, in one process (no per-step start-up cost).
// Troubleshooting (13) is run on demand, not as part of the flow.
import { loadSteps } from '../lib/steps.js';
import { main } from '../lib/run.js';

// No top-level await: the bundle is CommonJS (build.mjs), loaded through the code cache.
void loadSteps({ to: 12 }).then((steps) => main(steps));
