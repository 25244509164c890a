// What several lab tests need of this host: whether a pid lives, and a PATH that
// lacks some commands (a machine without go, without kind...), made of links to the rest.
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A folder to use as PATH: every file of the current PATH but `without`. */
export function pathWithout(dir: string, without: string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (!d || !existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (without.includes(f) || existsSync(join(dir, f))) continue;
      try {
        if (statSync(join(d, f)).isFile()) symlinkSync(join(d, f), join(dir, f));
      } catch {
        /* a dangling link on PATH */
      }
    }
  }
  return dir;
}
