// Which lab mode `up` runs when LAB_MODE is not set: process mode wherever its tools
// are or can be installed (python3 for moto; go, or vault on PATH, for Vault), Docker
// mode where they cannot and a Docker engine answers. Never a mode that cannot work
// when the other could. The decision is a pure function (unit-tested); `probeMode` only
// gathers the facts, and asks Docker only when process mode is not possible.
import { onPath } from './install-common.js';

export interface ModeFacts {
  /** LAB_MODE as set (undefined: pick). */
  requested?: 'process' | 'docker';
  python3: boolean;
  go: boolean;
  vaultOnPath: boolean;
  /** undefined: not asked (not needed). */
  docker?: { ok: true } | { ok: false; short: string };
}

export type ModeChoice = { mode: 'process' | 'docker'; why: string } | { mode: 'none'; why: string };

/** Process mode can work: moto needs python3, the lab's Vault needs go to build it unless vault is on PATH. */
export function processPossible(f: Pick<ModeFacts, 'python3' | 'go' | 'vaultOnPath'>): { ok: boolean; missing: string[] } {
  const missing: string[] = [];
  if (!f.python3) missing.push('python3');
  if (!f.go && !f.vaultOnPath) missing.push('go (or vault on PATH)');
  return { ok: missing.length === 0, missing };
}

export function pickMode(f: ModeFacts): ModeChoice {
  if (f.requested) return { mode: f.requested, why: `LAB_MODE=${f.requested}` };
  const p = processPossible(f);
  if (p.ok) return { mode: 'process', why: `LAB_MODE unset: ${f.vaultOnPath && !f.go ? 'python3 and vault are on PATH' : 'python3 and go are on PATH'}, so the lab runs as local processes; LAB_MODE=docker for containers` };
  if (f.docker?.ok) return { mode: 'docker', why: `LAB_MODE unset: ${p.missing.join(' and ')} missing for the process lab, and Docker runs` };
  const dockerWhy = f.docker && !f.docker.ok ? f.docker.short : 'Docker was not checked';
  return {
    mode: 'none',
    why: `no lab mode can run here: the process lab needs ${p.missing.join(' and ')} (install them: https://go.dev/dl/, https://www.python.org/downloads/), and Docker mode needs a running Docker engine (${dockerWhy})`,
  };
}

/** The facts of this machine, Docker asked only when process mode is not possible. */
export async function probeMode(requested: ModeFacts['requested']): Promise<ModeFacts> {
  const f: ModeFacts = { requested, python3: !!onPath('python3'), go: !!onPath('go'), vaultOnPath: !!onPath('vault') };
  if (!requested && !processPossible(f).ok) {
    const { dockerEngine } = await import('./docker.js');
    const e = await dockerEngine();
    f.docker = e.ok ? { ok: true } : { ok: false, short: e.short };
  }
  return f;
}
