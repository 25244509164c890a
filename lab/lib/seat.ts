// `lab/bin/seat <N>`: the settings of workshop participant N's own lab on a shared
// machine (docs/WORKSHOP.md) — its own folder and its own four ports — as shell
// lines: eval "$(lab/bin/seat 3)". Seats 1-99; ports 21000 + 10*N + 0..3 (below 32768: outside the ephemeral ranges of Linux, 32768-60999, and macOS, 49152-65535, where an outgoing connection can hold any port at any time).
import { join, resolve } from 'node:path';
import { quote } from './env.js';
import { LAB_ROOT, LabInputError } from './settings.js';

export const SEAT_PORT_BASE = 21000;
const USAGE = 'usage: seat <N> [--dir FOLDER] (N from 1 to 99; FOLDER default <repo>/.workshop/seat-N)';

export interface Seat {
  n: number;
  dir: string;
  env: Record<string, string>;
}

/** Pure: seat N's folder and settings. */
export function seat(n: number, base = join(LAB_ROOT, '.workshop')): Seat {
  if (!Number.isInteger(n) || n < 1 || n > 99) throw new LabInputError(`seat ${n} is not a seat number from 1 to 99: ${USAGE}`);
  const dir = resolve(base, `seat-${n}`);
  const port = (k: number) => String(SEAT_PORT_BASE + 10 * n + k);
  return {
    n,
    dir,
    env: {
      LAB_DIR: join(dir, 'lab'),
      LAB_STATE_DIR: join(dir, 'state'),
      STATE_FILE: join(dir, 'state', 'state.json'),
      GLOO_VALUES_FILE: join(dir, 'state', 'helm-overrides.yaml'),
      LAB_MOTO_PORT: port(0),
      LAB_VAULT_PORT: port(1),
      LAB_ISSUER_PORT: port(2),
      LAB_STS_PROXY_PORT: port(3),
      // Participants type the guide's vault and aws commands: the lab provides both CLIs.
      LAB_VAULT_CLI: '1',
      LAB_AWS_CLI: '1',
    },
  };
}

export function seatLines(args: string[]): string[] {
  let dir: string | undefined;
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--dir') {
      dir = args[++i];
      if (!dir) throw new LabInputError(`--dir needs a folder: ${USAGE}`);
    } else if (a.startsWith('-')) throw new LabInputError(`unknown option ${a}: ${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 1 || !/^\d+$/.test(pos[0]!)) throw new LabInputError(USAGE);
  const s = seat(Number(pos[0]), dir);
  return [`# workshop seat ${s.n}: its own lab in ${s.dir}`, ...Object.entries(s.env).map(([k, v]) => `export ${k}=${quote(v)}`)];
}
