// kubectl through zx: a reachability probe, a plain call, and a port-forward
// the runbook opens and closes itself. Failures become RemoteError('kubectl', …)
// with one sentence, never a stack.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ProcessPromise } from 'zx/core';
import { loadZx } from './load-zx.js';
import type { Config } from './config.js';
import { RemoteError } from './errors.js';
import { redact } from './redact.js';

function env(config?: Pick<Config, 'kubeconfig'>): NodeJS.ProcessEnv {
  return config?.kubeconfig ? { ...process.env, KUBECONFIG: config.kubeconfig } : process.env;
}

/** First meaningful line of a tool's stderr, redacted. */
export function firstLine(text: string): string {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l && !/^[EWI]\d{4} /.test(l)) ?? '';
  return redact(line.replace(/^error:\s*/i, ''));
}

/** The file a shell would run for `bin`: the first executable file of that name on PATH, found without starting a process. */
export function onPath(bin: string, pathVar: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, bin);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Pure: the kubeconfig files kubectl reads, in order: KUBECONFIG's list (the runbook's setting first), else ~/.kube/config. */
export function kubeconfigPaths(kubeconfig: string | undefined, envKubeconfig: string | undefined, home: string): string[] {
  const list = kubeconfig || envKubeconfig || '';
  return list ? [...new Set(list.split(path.delimiter).filter(Boolean))] : [path.join(home, '.kube', 'config')];
}

type Named = { name?: unknown; [k: string]: unknown };

/**
 * Pure: the API server the current context of merged kubeconfig documents points at, as
 * kubectl merges them (the first document to set current-context wins, and the first to
 * define a name); undefined when there is no current context, no such context or cluster,
 * or the cluster has no server: kubectl then has nowhere to go but the in-cluster
 * service (if any) or http://localhost:8080, which no cluster serves.
 */
export function currentServer(docs: unknown[]): string | undefined {
  const objs = docs.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d));
  const current = objs.map((d) => d['current-context']).find((c) => typeof c === 'string' && c !== '') as string | undefined;
  if (!current) return undefined;
  const find = (list: string, name: string, field: string): Record<string, unknown> | undefined => {
    for (const d of objs) {
      const entry = (Array.isArray(d[list]) ? (d[list] as Named[]) : []).find((e) => e && e.name === name);
      if (entry) return typeof entry[field] === 'object' && entry[field] !== null ? (entry[field] as Record<string, unknown>) : undefined;
    }
    return undefined;
  };
  const cluster = find('contexts', current, 'context')?.cluster;
  if (typeof cluster !== 'string' || !cluster) return undefined;
  const server = find('clusters', cluster, 'cluster')?.server;
  return typeof server === 'string' && server ? server : undefined;
}

/**
 * Whether asking kubectl can find a cluster, decided from files alone: `no` without
 * kubectl on PATH, or when the kubeconfig names no server (and this is not a pod with an
 * in-cluster service); `ask` otherwise (a file that does not parse is kubectl's to judge).
 */
export async function kubeProbe(config?: Pick<Config, 'kubeconfig'>): Promise<{ answer: 'no' } | { answer: 'ask'; key: string }> {
  const bin = onPath('kubectl');
  if (!bin) return { answer: 'no' };
  const inCluster = Boolean(process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT);
  const files: { file: string; text: string; mtime: number }[] = [];
  for (const file of kubeconfigPaths(config?.kubeconfig, process.env.KUBECONFIG, os.homedir())) {
    try {
      files.push({ file, text: fs.readFileSync(file, 'utf8'), mtime: fs.statSync(file).mtimeMs });
    } catch {
      // kubectl skips a listed file that is not there
    }
  }
  const key = JSON.stringify([bin, files.map((f) => [f.file, f.mtime]), inCluster]);
  if (!files.length) return inCluster ? { answer: 'ask', key } : { answer: 'no' };
  let server: string | undefined;
  try {
    const { parse } = await import('yaml');
    server = currentServer(files.map((f) => parse(f.text) as unknown));
  } catch {
    return { answer: 'ask', key };
  }
  return server || inCluster ? { answer: 'ask', key } : { answer: 'no' };
}

// One `kubectl version` per process and kubeconfig: steps 04, 11, 12 and teardown ask the same question.
const probes = new Map<string, Promise<boolean>>();

/**
 * True when kubectl answers with the current KUBECONFIG (short timeout, never throws).
 * Where no cluster can answer (no kubectl on PATH, no kubeconfig naming a server), that is
 * known from the files without starting kubectl, which takes a tenth of a second or more
 * to say so; otherwise `kubectl version` decides, once per process and kubeconfig.
 */
export async function hasKubeCluster(config?: Pick<Config, 'kubeconfig'>, timeoutMs = 5000): Promise<boolean> {
  const probe = await kubeProbe(config);
  if (probe.answer === 'no') return false;
  const key = `${probe.key} ${timeoutMs}`;
  let answer = probes.get(key);
  if (!answer) {
    answer = (async () => {
      const $ = await loadZx();
      try {
        const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
        await $({ env: env(config), quiet: true, nothrow: false, timeout: timeoutMs + 2000 })`kubectl version --request-timeout=${secs}s -o json`;
        return true;
      } catch {
        return false;
      }
    })();
    probes.set(key, answer);
  }
  return answer;
}

/** Run kubectl with args; returns stdout. Throws RemoteError('kubectl', args[0], …). */
export async function kubectl(args: string[], opts: { config?: Pick<Config, 'kubeconfig'>; input?: string; timeoutMs?: number } = {}): Promise<string> {
  const $ = await loadZx();
  try {
    const p = $({ env: env(opts.config), quiet: true, ...(opts.input !== undefined ? { input: opts.input } : {}), ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) })`kubectl ${args}`;
    return (await p).stdout;
  } catch (err) {
    throw kubeError('kubectl', args, err);
  }
}

export function kubeError(tool: 'kubectl' | 'helm', args: string[], err: unknown): RemoteError {
  const e = err as { stderr?: string; message?: string; code?: string };
  if (e.code === 'ENOENT' || /ENOENT|command not found/.test(e.message ?? '')) {
    return new RemoteError(tool, args[0] ?? tool, `${tool} is not installed or not on PATH: install it (https://${tool === 'helm' ? 'helm.sh/docs/intro/install' : 'kubernetes.io/docs/tasks/tools'}) and run again`);
  }
  const detail = firstLine(e.stderr ?? '') || firstLine(e.message ?? '') || 'failed';
  return new RemoteError(tool, args[0] ?? tool, `\`${tool} ${redact(args.slice(0, 3).join(' '))}\` failed: ${detail}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, until: number, proc: { exited: boolean; stderr: string }): Promise<void> {
  while (Date.now() < until) {
    if (proc.exited) throw new Error(proc.stderr || 'port-forward exited');
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(proc.stderr || 'timed out waiting for the forwarded port');
}

export interface PortForward {
  url: string;
  localPort: number;
  close(): Promise<void>;
}

/**
 * `kubectl port-forward -n ns target local:remote` until close().
 * target is e.g. `pod/vault-0` or `svc/vault`. localPort 0/undefined picks a free one.
 */
export async function portForward(ns: string, target: string, localPort: number | undefined, remotePort: number, opts: { config?: Pick<Config, 'kubeconfig'>; timeoutMs?: number; /** Do not keep node alive; killed at process exit if not closed before. */ unref?: boolean } = {}): Promise<PortForward> {
  const $ = await loadZx();
  const port = localPort || (await freePort());
  const args = ['port-forward', '-n', ns, target, `${port}:${remotePort}`, '--address', '127.0.0.1'];
  const state = { exited: false, stderr: '' };
  let child: ProcessPromise;
  try {
    child = $({ env: env(opts.config), quiet: true, nothrow: true })`kubectl ${args}`;
  } catch (err) {
    throw kubeError('kubectl', args, err);
  }
  child.stderr.on('data', (d: Buffer) => { state.stderr += d.toString(); });
  void child.then(() => { state.exited = true; }, () => { state.exited = true; });
  const killAtExit = (): void => {
    try { child.child?.kill('SIGTERM'); } catch { /* gone */ }
  };
  process.once('exit', killAtExit);
  try {
    await waitForPort(port, Date.now() + (opts.timeoutMs ?? 15000), state);
  } catch (err) {
    if (!state.exited) await child.kill().catch(() => undefined);
    throw kubeError('kubectl', args, { stderr: state.stderr, message: (err as Error).message });
  }
  if (opts.unref) {
    const c = child.child;
    c?.unref();
    for (const s of [c?.stdout, c?.stderr, c?.stdin]) (s as unknown as { unref?: () => void } | null | undefined)?.unref?.();
  }
  return {
    url: `http://127.0.0.1:${port}`,
    localPort: port,
    async close() {
      process.removeListener('exit', killAtExit);
      if (state.exited) return;
      await child.kill().catch(() => undefined);
      await child.catch(() => undefined);
    },
  };
}

/** `kubectl create token` arrived in kubectl 1.24. */
export const KUBECTL_CREATE_TOKEN_MIN = { major: 1, minor: 24 };

/** Pure: the client version from `kubectl version --client -o json` (minor may read "24+" on vendor builds). */
export function parseKubectlClientVersion(json: string): { major: number; minor: number; gitVersion: string } | undefined {
  let v: { clientVersion?: { major?: string; minor?: string; gitVersion?: string } };
  try {
    v = JSON.parse(json) as typeof v;
  } catch {
    return undefined;
  }
  const c = v?.clientVersion;
  // Builds without version stamping print major/minor as "": the gitVersion says it then.
  const git = /^v?(\d+)\.(\d+)(?:\.|$)/.exec(c?.gitVersion ?? '');
  const major = Number.parseInt(c?.major || git?.[1] || '', 10);
  const minor = Number.parseInt(c?.minor || git?.[2] || '', 10);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return undefined;
  return { major, minor, gitVersion: c?.gitVersion || `v${major}.${minor}` };
}

/** Pure: why this kubectl cannot run `kubectl create token`, or undefined. */
export function kubectlCreateTokenProblem(json: string): string | undefined {
  const v = parseKubectlClientVersion(json);
  if (!v) return 'kubectl printed no client version (`kubectl version --client -o json`), and `kubectl create token` needs kubectl 1.24 or newer: install a current kubectl (https://kubernetes.io/docs/tasks/tools) and run again';
  const { major, minor } = KUBECTL_CREATE_TOKEN_MIN;
  if (v.major > major || (v.major === major && v.minor >= minor)) return undefined;
  return `kubectl ${v.gitVersion} is too old for \`kubectl create token\`, which needs kubectl 1.24 or newer: install a current kubectl (https://kubernetes.io/docs/tasks/tools) and run again`;
}

let kubectlChecked: Promise<void> | undefined;

/** Checks once per process that kubectl can run `kubectl create token`; throws RemoteError('kubectl', 'version', …). */
export function requireKubectlCreateToken(config?: Pick<Config, 'kubeconfig'>): Promise<void> {
  kubectlChecked ??= (async () => {
    const out = await kubectl(['version', '--client', '-o', 'json'], { config, timeoutMs: 15_000 });
    const problem = kubectlCreateTokenProblem(out);
    if (problem) throw new RemoteError('kubectl', 'version', problem, 'KubectlTooOld');
  })();
  return kubectlChecked.catch((err) => {
    kubectlChecked = undefined;
    throw err;
  });
}
