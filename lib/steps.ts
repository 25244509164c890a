// The ordered list of steps: every runbook/NN-*.ts file, by number. Adding a
// step is adding a file; `make all`, `make plan` and the reference follow.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Step } from './step.js';

export const RUNBOOK_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runbook');

export function stepFiles(dir = RUNBOOK_DIR): string[] {
  return fs.readdirSync(dir).filter((f) => /^\d\d-[a-z0-9-]+\.ts$/.test(f)).sort();
}

/** Steps `from`..`to` inclusive (by number). */
export async function loadSteps(opts: { from?: number; to?: number } = {}): Promise<Step[]> {
  const steps: Step[] = [];
  for (const f of stepFiles()) {
    const n = Number(f.slice(0, 2));
    if (n < (opts.from ?? 1) || n > (opts.to ?? 99)) continue;
    const mod = (await import(pathToFileURL(path.join(RUNBOOK_DIR, f)).href)) as { step?: Step };
    if (!mod.step) throw new Error(`${f} exports no \`step\``);
    steps.push(mod.step);
  }
  return steps;
}
