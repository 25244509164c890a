// How a lab command ends (lab/lib/cli.ts, and sa-token's own entry): expected problems
// print one sentence (exit 1; bad input to `break` and `seat`: exit 2), anything else is a
// bug: the stack and "please report" (exit 70).
import { LabNotRunningError, LAB_NOT_RUNNING } from './lab.js';
import { LabError, LabInputError } from './settings.js';

export async function runVerb(prog: string, main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (e) {
    if (e instanceof LabNotRunningError) {
      console.error(LAB_NOT_RUNNING);
      process.exitCode = 1;
    } else if (e instanceof LabError) {
      console.error(`${prog}: ${e.message}`);
      process.exitCode = e instanceof LabInputError ? e.exitCode : 1;
    } else {
      console.error(`${prog}: unexpected error — this is a bug in the lab, please report it:`);
      console.error(e);
      process.exitCode = 70;
    }
  }
}
