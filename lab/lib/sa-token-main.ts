// lab/bin/sa-token's entry when dist/ is fresh (lab/lib/node-run): dist/lab/sa-token.cjs,
// built apart from the lab's command line (build.mjs) so that the token every `make verify`
// asks for costs one small file, not the lab's whole command line. The same verb as
// `lab/lib/cli.ts sa-token`, which the TypeScript fallback runs.
import { saToken } from './sa-token.js';
import { runVerb } from './verb.js';

void runVerb(process.env.LAB_PROG ?? 'sa-token', async () => {
  await saToken(process.argv.slice(2));
  return 0;
});
