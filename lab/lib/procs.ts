// The lab's server processes: started detached (their own process group, so a
// stop kills the whole tree), recorded by the lab itself in pids/<name>.pid as
// JSON { pid, command, startedAt }, and stopped only when the pid still runs the
// recorded program. Portable: no setsid, no /proc, no GNU-only tools.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError, elapsed } from './settings.js';

export interface PidRecord {
  pid: number;
  command: string;
  startedAt: string;
}

const pidFile = (dir: string, name: string) => join(dir, 'pids', `${name}.pid`);

export function readPid(dir: string, name: string): PidRecord | undefined {
  const f = pidFile(dir, name);
  if (!existsSync(f)) return undefined;
  const raw = readFileSync(f, 'utf8').trim();
  try {
    const rec = JSON.parse(raw) as PidRecord | number;
    if (typeof rec === 'number') return Number.isInteger(rec) && rec > 0 ? { pid: rec, command: '', startedAt: '' } : undefined;
    return Number.isInteger(rec.pid) && rec.pid > 0 ? rec : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What the pid runs now, from `ps` (POSIX: Linux and macOS alike), or undefined if gone. */
function commandOf(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The recorded process, if it is alive and still runs the program the lab started. */
export function ownedPid(dir: string, name: string): number | undefined {
  const rec = readPid(dir, name);
  if (!rec || !isAlive(rec.pid)) return undefined;
  if (!rec.command) return rec.pid;
  const now = commandOf(rec.pid);
  return now !== undefined && now.includes(basename(rec.command)) ? rec.pid : undefined;
}

/** What each pid runs now, from one `ps` for all of them (POSIX -p a,b,c); gone pids are absent. */
function commandsOf(pids: number[]): Map<number, string> {
  const out = new Map<number, string>();
  if (!pids.length) return out;
  let text = '';
  try {
    text = execFileSync('ps', ['-o', 'pid=,command=', '-p', pids.join(',')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    // ps exits 1 when some pid is gone; what it printed for the others still counts.
    text = String((e as { stdout?: unknown }).stdout ?? '');
  }
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m && m[2]!.trim()) out.set(Number(m[1]), m[2]!.trim());
  }
  return out;
}

/**
 * ownedPid() for several services with one `ps` process instead of one each: the lab's
 * env, sa-token (every step-12 run) and status check all four services.
 */
export function ownedPids(dir: string, names: readonly string[]): Map<string, number | undefined> {
  const recs = new Map(names.map((n) => [n, readPid(dir, n)] as const));
  const alive = [...recs.values()].filter((r): r is PidRecord => Boolean(r && isAlive(r.pid)));
  const cmds = commandsOf(alive.filter((r) => r.command).map((r) => r.pid));
  const out = new Map<string, number | undefined>();
  for (const [n, rec] of recs) {
    if (!rec || !alive.includes(rec)) out.set(n, undefined);
    else if (!rec.command) out.set(n, rec.pid);
    else out.set(n, cmds.get(rec.pid)?.includes(basename(rec.command)) ? rec.pid : undefined);
  }
  return out;
}

export interface StartSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export function startDetached(dir: string, spec: StartSpec): number {
  mkdirSync(join(dir, 'pids'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const fd = openSync(join(dir, 'logs', `${spec.name}.log`), 'w', 0o600);
  try {
    const child = spawn(spec.command, spec.args, { detached: true, stdio: ['ignore', fd, fd], env: spec.env });
    if (child.pid === undefined) throw new LabError(`could not start ${spec.name} (${spec.command})`);
    child.on('error', () => undefined);
    child.unref();
    const rec: PidRecord = { pid: child.pid, command: spec.command, startedAt: new Date().toISOString() };
    writeFileSync(pidFile(dir, spec.name), JSON.stringify(rec) + '\n');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function signalTree(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // the group: the server and anything it started
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/**
 * A process that has exited but not been reaped yet: `ps` shows state Z. The lab's servers
 * are reparented to the system's init when lab/bin/up exits; an init that reaps only now
 * and then (a container's or a sandbox's pid 1: about every 2 s here) leaves a stopped
 * server answering kill(pid, 0) for that long, which made every stop wait for it.
 */
function isZombie(pid: number): boolean {
  try {
    return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().startsWith('Z');
  } catch {
    return false; // ps exits 1 when the pid is gone: isAlive says so on the next look
  }
}

/** Gone: the pid no longer exists, or it is a zombie (it has exited; only its reaping is left). */
async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    if (!isAlive(pid)) return true;
    // ps is a process start: only from the 2nd look on, every 2nd (each 100 ms).
    if (i > 0 && i % 2 === 0 && isZombie(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid) || isZombie(pid);
}

export type StopResult = 'stopped' | 'not running' | 'not ours';

/** Stop one service: TERM to its process group, KILL after 10 s. */
export async function stopService(dir: string, name: string): Promise<{ result: StopResult; pid?: number; detail?: string }> {
  const rec = readPid(dir, name);
  if (!rec || !isAlive(rec.pid)) {
    rmSync(pidFile(dir, name), { force: true });
    return { result: 'not running' };
  }
  if (ownedPid(dir, name) === undefined) {
    rmSync(pidFile(dir, name), { force: true });
    return { result: 'not ours', pid: rec.pid, detail: (commandOf(rec.pid) ?? '').slice(0, 60) };
  }
  signalTree(rec.pid, 'SIGTERM');
  if (!(await waitGone(rec.pid, 10_000))) {
    signalTree(rec.pid, 'SIGKILL');
    if (!(await waitGone(rec.pid, 5_000))) throw new LabError(`${name} (pid ${rec.pid}) did not stop: kill it by hand (kill -9 ${rec.pid})`);
  }
  rmSync(pidFile(dir, name), { force: true });
  return { result: 'stopped', pid: rec.pid };
}

export interface ReadyUrl {
  url: string;
  /** Acceptable HTTP status codes (default 200). */
  codes?: number[];
  /** PEM file of the CA that signed an https server's certificate. */
  ca?: string;
}

/** A URL to poll, or a check that resolves true once the service is ready (lab/lib/service-spec.ts). */
export type Ready = ReadyUrl | (() => Promise<boolean>);

/** Where a ready check looks, for messages. */
export const readyWhere = (r: Ready): string => (typeof r === 'function' ? 'its ready check' : r.url);

/** One probe of a ready check. */
export async function isReady(r: Ready): Promise<boolean> {
  if (typeof r === 'function') return r().catch(() => false);
  const code = await httpStatus(r.url, 2000, r.ca);
  return code !== undefined && (r.codes ?? [200]).includes(code);
}

export async function httpStatus(url: string, timeoutMs = 2000, ca?: string): Promise<number | undefined> {
  if (ca) {
    // fetch cannot take a CA; node's https can.
    const https = await import('node:https');
    return new Promise((resolveP) => {
      let pem: Buffer;
      try {
        pem = readFileSync(ca);
      } catch {
        return resolveP(undefined);
      }
      const req = https.request(url, { method: 'GET', ca: pem, timeout: timeoutMs }, (res) => {
        res.resume();
        resolveP(res.statusCode);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolveP(undefined));
      req.end();
    });
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.arrayBuffer().catch(() => undefined);
    return res.status;
  } catch {
    return undefined;
  }
}

/**
 * Wait until the service answers, or its process dies, or 60 s pass. On failure the
 * last lines of its log are returned (the caller redacts and prints them).
 */
export async function waitReady(dir: string, name: string, ready: Ready, timeoutMs = 60_000): Promise<{ ok: true; took: string } | { ok: false; log: string }> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await isReady(ready)) return { ok: true, took: elapsed(t0) };
    if (ownedPid(dir, name) === undefined) break;
    await sleep(100);
  }
  let log = '';
  try {
    log = readFileSync(join(dir, 'logs', `${name}.log`), 'utf8').split('\n').slice(-25).join('\n');
  } catch {
    /* no log */
  }
  return { ok: false, log };
}

/** True if something already listens on 127.0.0.1:port. */
export async function portTaken(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolveP) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolveP(true);
    });
    s.once('error', () => resolveP(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolveP(false);
    });
  });
}
