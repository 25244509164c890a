// Runs ServiceSpecs (lab/lib/service-spec.ts) for a test: each process detached in
// its own process group (so its children go with it), started in order, each once
// the one before is ready; stopped in reverse order by process group, TERM then KILL.
// Portable: no setsid, flock or GNU-only tools.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import type { ServiceSpec, ReadyUrl } from '../../lab/lib/service-spec.js';

export interface Running {
  name: string;
  pid: number;
  log: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function probe(r: ReadyUrl): Promise<boolean> {
  const url = new URL(r.url);
  const codes = r.codes ?? [200];
  return new Promise((resolve) => {
    const opts = { method: 'GET', timeout: 3000, ...(r.ca ? { ca: readFileSync(r.ca) } : {}) };
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
      res.resume();
      resolve(codes.includes(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts every spec in order; on failure stops what it started and throws with the log tail. */
export async function startServices(specs: ServiceSpec[], opts: { logDir: string; timeoutMs?: number; log?: (l: string) => void }): Promise<Running[]> {
  mkdirSync(opts.logDir, { recursive: true });
  const running: Running[] = [];
  try {
    for (const s of specs) {
      const log = join(opts.logDir, `${s.name}.log`);
      const fd = openSync(log, 'a');
      const child = spawn(s.command, s.args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...(s.env ?? {}) } });
      closeSync(fd);
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
      child.unref();
      let exited: number | null | undefined;
      child.once('exit', (code) => (exited = code));
      running.push({ name: s.name, pid, log });
      const t0 = Date.now();
      const deadline = t0 + (opts.timeoutMs ?? 90_000);
      for (;;) {
        if (exited !== undefined) throw new Error(`${s.name} exited (code ${exited}) before it was ready:\n${tail(log)}`);
        const ok = typeof s.ready === 'function' ? await s.ready().catch(() => false) : await probe(s.ready);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`${s.name} was not ready within ${Math.round((opts.timeoutMs ?? 90_000) / 1000)} s:\n${tail(log)}`);
        await sleep(250);
      }
      opts.log?.(`${s.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${pid})`);
    }
    return running;
  } catch (e) {
    await stopServices(running);
    throw e;
  }
}

/** Stops in reverse order: SIGTERM to the process group, SIGKILL after graceMs. */
export async function stopServices(running: Running[], graceMs = 10_000): Promise<void> {
  for (const r of [...running].reverse()) {
    try {
      process.kill(-r.pid, 'SIGTERM');
    } catch {
      continue; // already gone
    }
    const deadline = Date.now() + graceMs;
    while (alive(r.pid) && Date.now() < deadline) await sleep(100);
    if (alive(r.pid)) {
      try {
        process.kill(-r.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      while (alive(r.pid)) await sleep(50);
    }
  }
}

/** Synchronous last resort (process 'exit' handler): KILL every group still there. */
export function killAllSync(running: Running[]): void {
  for (const r of running) {
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export { alive as groupAlive };
