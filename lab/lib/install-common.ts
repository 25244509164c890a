// What the lab's tool installs share: recipe hashes, tool look-ups and logged runs.
// Part of both tools' recipes (its text is hashed into their cache keys).
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from './settings.js';

export type Log = (line: string) => void;

export const COMMON_FILE = fileURLToPath(import.meta.url);

export function hashOf(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

export function toolVersion(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return '';
  }
}

export function onPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (!d) continue;
    const p = join(d, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Run a command, its output to a log file; on failure the log's tail is in the error. */
export function runLogged(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string; what: string }): Promise<void> {
  return new Promise((resolveP, reject) => {
    const out = createWriteStream(opts.log, { flags: 'a' });
    out.write(`\n$ ${cmd} ${args.join(' ')}\n`);
    const child = execFile(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 256 * 1024 * 1024 }, (err) => {
      out.end(() => {
        if (!err) return resolveP();
        const tail = readFileSync(opts.log, 'utf8').split('\n').slice(-15).join('\n');
        reject(new LabError(`${opts.what} failed (log: ${opts.log}); its last lines:\n${tail}`, { cause: err }));
      });
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
  });
}

