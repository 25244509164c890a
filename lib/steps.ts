// The ordered list of steps: every runbook/NN-*.ts file, by number. Adding a
// step is adding a file; `make all`, `make plan` and the reference follow.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Step } from './step.js';
import { compiled } from './compiled.js';

export const RUNBOOK_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'runbook');

export function stepFiles(dir = RUNBOOK_DIR): string[] {
  if (compiled && dir === RUNBOOK_DIR) return Object.keys(compiled.steps).sort();
  return fs.readdirSync(dir).filter((f) => /^\d\d-[a-z0-9-]+\.ts$/.test(f)).sort();
}

/** Steps `from`..`to` inclusive (by number). */
export async function loadSteps(opts: { from?: number; to?: number } = {}): Promise<Step[]> {
  const steps: Step[] = [];
  for (const f of stepFiles()) {
    const n = Number(f.slice(0, 2));
    if (n < (opts.from ?? 1) || n > (opts.to ?? 99)) continue;
    const mod = (await (compiled ? compiled.steps[f]!() : import(pathToFileURL(path.join(RUNBOOK_DIR, f)).href))) as { step?: Step };
    if (!mod.step) throw new Error(`${f} exports no \`step\``);
    steps.push(mod.step);
  }
  return steps;
}

/**
 * Teardown: every step's delete, in reverse order, derived from the steps, so
 * a new step or a renamed setting cannot be forgotten. Each works on the
 * records of the step it came from.
 */
export function teardownSteps(steps: Step[]): Step[] {
  return steps
    .filter((s) => s.teardown)
    .reverse()
    .map((s): Step => ({
      id: `T${s.id}`,
      name: `teardown-${s.name}`,
      title: `Teardown: ${s.title}`,
      owner: s.id,
      ...(s.vault ? { vault: s.vault } : {}),
      reference: (v) => s.teardownReference?.(v) ?? [],
      async check(ctx) {
        const out = await s.teardown!(ctx);
        return out.length ? out : [{ what: 'nothing to delete', change: 'none', note: 'the runbook recorded no such resource as created' }];
      },
    }));
}
