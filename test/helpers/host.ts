// What several lab tests need of this host: whether a pid lives, and a PATH that
// lacks some commands (a machine without go, without kind...), made of links to the rest.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The pid runs: it exists and is not a zombie. A lab server that has exited stays a zombie
 * until the system's init reaps it, which a sandbox's or container's pid 1 may do only every
 * few seconds; lab/bin/down counts it as stopped then (lab/lib/procs.ts), and so does this.
 */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().startsWith('Z');
  } catch {
    return false; // ps exits 1: the pid has gone meanwhile
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
