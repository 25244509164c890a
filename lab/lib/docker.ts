// The `docker` CLI as the lab uses it (no SDK, no new dependency). Every object Docker
// mode makes carries the label vault-irsa-runbook.lab=<id> and a name starting
// vir-lab-<id>, where <id> is a hash of LAB_DIR: `down` removes exactly the objects
// with this lab's label, never anything else on the user's Docker (another lab, a seat,
// the user's own containers).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { LabError } from './settings.js';

export const LAB_LABEL = 'vault-irsa-runbook.lab';
/** The lab's containers on its Docker network (the issuer stays a host process). */
export const DOCKER_SERVICES = ['moto', 'sts-proxy', 'vault', 'irsa-webhook'] as const;
export type DockerService = (typeof DOCKER_SERVICES)[number];

/** The containers a Docker-mode lab runs: Vault without kind; with kind (LAB_K8S=1) the IRSA webhook, and Vault is step 04's, in the cluster. */
export function dockerServicesFor(kind: boolean): DockerService[] {
  return kind ? ['moto', 'sts-proxy', 'irsa-webhook'] : ['moto', 'sts-proxy', 'vault'];
}

export interface DockerNames {
  id: string;
  label: string;
  network: string;
  container(service: string): string;
  /** The kind cluster of LAB_MODE=docker LAB_K8S=1. */
  kindCluster: string;
}

export function dockerNames(dir: string): DockerNames {
  const id = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 10);
  const prefix = `vir-lab-${id}`;
  return { id, label: `${LAB_LABEL}=${id}`, network: prefix, container: (s) => `${prefix}-${s}`, kindCluster: prefix };
}

export interface Res {
  code: number;
  stdout: string;
  stderr: string;
}

const NOT_INSTALLED = 'the docker command is not installed: install Docker (https://docs.docker.com/get-docker/; Debian: apt-get install docker.io), or use the process lab (unset LAB_MODE)';

/** Run docker; a non-zero exit is returned, not thrown. A missing docker is one sentence. */
export function docker(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Res> {
  return new Promise((resolveP, reject) => {
    execFile('docker', args, { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new LabError(NOT_INSTALLED));
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolveP({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** docker, failing with one sentence (what was done, Docker's own first line). */
export async function dockerOk(args: string[], what: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new LabError(`${what} failed: ${firstLine(r.stderr || r.stdout) || `docker exited ${r.code}`}`);
  return r.stdout.trim();
}

export const firstLine = (s: string) => s.trim().split('\n').find((l) => l.trim())?.trim() ?? '';

/** Is a Docker engine answering? The reason when not, for one sentence. */
/** `why`: one sentence with the fix; `short`: what is wrong, for a sentence of the caller's. */
export async function dockerEngine(): Promise<{ ok: true; version: string } | { ok: false; why: string; short: string }> {
  let r: Res;
  try {
    r = await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  } catch (e) {
    return { ok: false, why: (e as Error).message, short: 'the docker command is not installed' };
  }
  const v = r.stdout.trim();
  if (r.code === 0 && v && !/^<no value>$/.test(v)) return { ok: true, version: v };
  const short = `the Docker engine does not answer (${firstLine(r.stderr) || `docker info exited ${r.code}`})`;
  return { ok: false, short, why: `${short}: start Docker (Docker Desktop, or dockerd), or use the process lab (unset LAB_MODE)` };
}

/** State of the lab's containers by service name ('running', 'exited', ...; absent: no such container). Sync: readLabEnv is. */
export function containerStates(dir: string, services: readonly string[] = DOCKER_SERVICES): Map<string, string> {
  const n = dockerNames(dir);
  const out = new Map<string, string>();
  let text = '';
  try {
    text = execFileSync('docker', ['ps', '-a', '--filter', `label=${n.label}`, '--format', '{{.Names}} {{.State}}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  } catch {
    return out; // no docker, or no engine: nothing of the lab's is running
  }
  for (const line of text.split('\n')) {
    const [name, state] = line.trim().split(/\s+/);
    const svc = services.find((s) => n.container(s) === name);
    if (svc && state) out.set(svc, state);
  }
  return out;
}

/** The image is here, or is pulled with Docker's progress lines passed on (log). */
export async function ensureImage(image: string, log: (l: string) => void, hint: string): Promise<void> {
  if ((await docker(['image', 'inspect', '--format', '{{.Id}}', image])).code === 0) return;
  log(`up: pulling ${image} (first use; Docker's progress follows) ...`);
  const t0 = performance.now();
  const code = await new Promise<number>((resolveP) => {
    const child = spawn('docker', ['pull', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const seen = new Set<string>();
    const onData = (b: Buffer) => {
      tail = (tail + b.toString('utf8')).slice(-4000);
      for (const l of b.toString('utf8').split(/\r?\n/)) {
        const t = l.trim();
        // Layer status lines, once each (Docker repeats "Downloading" per chunk without a TTY).
        if (t && !seen.has(t)) {
          seen.add(t);
          log(`  pull ${image}: ${t}`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', () => resolveP(127));
    child.on('close', (c) => resolveP(c ?? 1));
  });
  if (code !== 0) throw new LabError(`docker pull ${image} failed: check the network and the image name, or ${hint}`);
  log(`up: pulled ${image} in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
}

/**
 * Remove every container and network that carries this lab's label (and only those);
 * returns the names removed. Idempotent.
 */
export async function removeLabObjects(dir: string): Promise<string[]> {
  const n = dockerNames(dir);
  const removed: string[] = [];
  const ps = await docker(['ps', '-a', '--filter', `label=${n.label}`, '--format', '{{.Names}}']);
  const containers = ps.code === 0 ? ps.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : [];
  if (containers.length) {
    await dockerOk(['rm', '-f', '-v', ...containers], `removing the lab's containers ${containers.join(', ')}`);
    removed.push(...containers);
  }
  const nets = await docker(['network', 'ls', '--filter', `label=${n.label}`, '--format', '{{.Name}}']);
  for (const net of nets.code === 0 ? nets.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : []) {
    await dockerOk(['network', 'rm', net], `removing the lab's network ${net}`);
    removed.push(net);
  }
  return removed;
}
