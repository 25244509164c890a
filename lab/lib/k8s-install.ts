// Installs the lab's Kubernetes tools, pinned, into <cache>/k8s-<recipe hash>/.
// This file is part of the cache key (k8sRecipeHash), so it holds only the
// install recipe: a change here rebuilds, a change to how the lab runs the tools
// (lab/lib/k8s.ts) does not.
//
//   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
//       k8s.io/kubernetes v1.34.2 through lab/k8s-build/kubernetes (staging modules
//       pinned to the tagged k8s.io/<name> v0.34.2), version stamped with -ldflags -X
//       so clients see v1.34.2 rather than v0.0.0-master. The controller manager
//       (Deployment -> ReplicaSet -> Pod, StatefulSet -> Pod, namespaces, service
//       accounts) and the scheduler (binds pods to kwok's node) are what kwok
//       itself does not do.
//   etcd      go.etcd.io/etcd/server/v3 v3.6.16 (lab/k8s-build/etcd). The Go build
//             rather than Debian's etcd-server: the same recipe works on macOS, and
//             3.6 is the line Kubernetes 1.34 is tested with (Debian has 3.4).
//   kwok      sigs.k8s.io/kwok v0.8.0, the `kwok` controller only (lab/k8s-build/kwok),
//             plus kwok-stages.yaml: kwok's own default node and pod stages (the files
//             kwokctl embeds), taken from the same pinned module.
//   helm      helm.sh/helm/v3 v3.22.0 (lab/k8s-build/helm), version stamped.
//
// A tool already on PATH at exactly the pinned version is used instead of a build.
// Builds go to a temporary name and are renamed into place when verified, so a
// reader never sees half a binary; a second install waits on <dir>.lock (mkdir,
// portable) rather than compete for the cores, and would at worst rename an
// identical binary over the first.
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const K8S_VERSION = 'v1.34.2';
export const ETCD_VERSION = 'v3.6.16';
export const KWOK_VERSION = 'v0.8.0';
export const HELM_VERSION = 'v3.22.0';

export interface K8sBins {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
  helm: string;
  kubectl: string;
  /** kwok's default Stage objects (node initialize + heartbeat with lease, pod ready/complete/delete). */
  kwokStages: string;
}

type BinKey = Exclude<keyof K8sBins, 'kwokStages'>;
type Module = 'kubernetes' | 'etcd' | 'kwok' | 'helm';

interface Tool {
  key: BinKey;
  bin: string;
  module: Module;
  pkg: string;
  version: { args: string[]; expect: RegExp };
}

const [k8sMajor, k8sMinor] = K8S_VERSION.slice(1).split('.');
const stamp = (pkg: string, v: Record<string, string>) => Object.entries(v).map(([k, val]) => `-X ${pkg}.${k}=${val}`);

/** -ldflags per wrapper module (-s -w: no symbol tables, as release builds). */
export const LDFLAGS: Record<Module, string[]> = {
  kubernetes: [
    '-s',
    '-w',
    ...stamp('k8s.io/component-base/version', { gitVersion: K8S_VERSION, gitMajor: k8sMajor!, gitMinor: k8sMinor!, gitTreeState: 'clean' }),
    ...stamp('k8s.io/client-go/pkg/version', { gitVersion: K8S_VERSION, gitMajor: k8sMajor!, gitMinor: k8sMinor!, gitTreeState: 'clean' }),
  ],
  etcd: ['-s', '-w'],
  kwok: ['-s', '-w'],
  // Helm's Makefile stamps its version and the Kubernetes version of its client-go
  // (v0.37.0 in helm.sh/helm/v3 v3.22.0's go.mod: the default for `helm template`).
  helm: ['-s', '-w', ...stamp('helm.sh/helm/v3/internal/version', { version: HELM_VERSION, gitTreeState: 'clean' }), ...stamp('helm.sh/helm/v3/pkg/chartutil', { k8sVersionMajor: '1', k8sVersionMinor: '37' }), ...stamp('helm.sh/helm/v3/pkg/lint/rules', { k8sVersionMajor: '1', k8sVersionMinor: '37' })],
};

const esc = (v: string) => v.replace(/[.]/g, '\\.');
export const TOOLS: Tool[] = [
  { key: 'kubeApiserver', bin: 'kube-apiserver', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver', version: { args: ['--version'], expect: new RegExp(`^Kubernetes ${esc(K8S_VERSION)}$`, 'm') } },
  { key: 'kubeControllerManager', bin: 'kube-controller-manager', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager', version: { args: ['--version'], expect: new RegExp(`^Kubernetes ${esc(K8S_VERSION)}$`, 'm') } },
  { key: 'kubeScheduler', bin: 'kube-scheduler', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler', version: { args: ['--version'], expect: new RegExp(`^Kubernetes ${esc(K8S_VERSION)}$`, 'm') } },
  { key: 'kubectl', bin: 'kubectl', module: 'kubernetes', pkg: 'k8s.io/kubernetes/cmd/kubectl', version: { args: ['version', '--client'], expect: new RegExp(`^Client Version: ${esc(K8S_VERSION)}$`, 'm') } },
  { key: 'etcd', bin: 'etcd', module: 'etcd', pkg: 'go.etcd.io/etcd/server/v3', version: { args: ['--version'], expect: new RegExp(`^etcd Version: ${esc(ETCD_VERSION.slice(1))}$`, 'm') } },
  { key: 'kwok', bin: 'kwok', module: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok', version: { args: ['--version'], expect: new RegExp(`^kwok version ${esc(KWOK_VERSION)} `, 'm') } },
  { key: 'helm', bin: 'helm', module: 'helm', pkg: 'helm.sh/helm/v3/cmd/helm', version: { args: ['version', '--template', '{{.Version}}'], expect: new RegExp(`^${esc(HELM_VERSION)}$`) } },
];

/** kwok's default stages, as kwokctl embeds them (paths inside the kwok module). */
const KWOK_STAGE_FILES = [
  'kustomize/stage/node/fast/node-initialize.yaml',
  'kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
  'kustomize/stage/pod/fast/pod-ready.yaml',
  'kustomize/stage/pod/fast/pod-complete.yaml',
  'kustomize/stage/pod/fast/pod-delete.yaml',
];

const moduleDir = (root: string, m: Module) => join(root, 'lab', 'k8s-build', m);

/**
 * The cache key: sha256 over the pinned versions, the build flags, every file of
 * the wrapper modules (go.mod, go.sum, tools.go), this install code and the
 * platform. Anything a build reads changes it.
 */
export function k8sRecipeHash(root: string): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ K8S_VERSION, ETCD_VERSION, KWOK_VERSION, HELM_VERSION, LDFLAGS, TOOLS: TOOLS.map((t) => ({ ...t, version: { args: t.version.args, expect: String(t.version.expect) } })), KWOK_STAGE_FILES, platform: `${process.platform}-${process.arch}` }));
  for (const m of ['etcd', 'helm', 'kubernetes', 'kwok'] as Module[]) {
    const dir = moduleDir(root, m);
    for (const f of readdirSync(dir).sort()) {
      h.update(`\0${m}/${f}\0`);
      h.update(readFileSync(join(dir, f)));
    }
  }
  h.update('\0lab/lib/k8s-install.ts\0');
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest('hex');
}

export function k8sCacheDir(root: string, cache: string): string {
  return join(cache, `k8s-${k8sRecipeHash(root).slice(0, 16)}`);
}

function onPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, bin);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

async function hasVersion(path: string, t: Tool): Promise<boolean> {
  try {
    const { stdout, stderr } = await run(path, t.version.args, { timeout: 20_000, env: { ...process.env, KUBECONFIG: '/dev/null' } });
    return t.version.expect.test(stdout.trim()) || t.version.expect.test(stderr.trim());
  } catch {
    return false;
  }
}

const elapsed = (t0: number) => {
  const s = Math.round((Date.now() - t0) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** mkdir lock with the holder's pid inside; a dead holder's lock is taken over. */
async function withLock<T>(lock: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created or removed */
      }
      if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
        const stale = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
        try {
          renameSync(lock, stale);
          rmSync(stale, { recursive: true, force: true });
        } catch {
          /* someone else took it over first */
        }
        continue;
      }
      if (!announced) log(`install: another install (pid ${Number.isNaN(holder) ? '?' : holder}) is building the Kubernetes tools, waiting for it ...`);
      announced = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function goBuild(root: string, m: Module, tools: Tool[], outDir: string, logFile: string): Promise<void> {
  // One `go build` per module shares its work; `-o dir/` names binaries after their
  // package, except a module root with a major-version suffix (etcd's server/v3 would be `server`).
  const out1 = tools.length === 1 ? join(outDir, tools[0]!.bin) : outDir + '/';
  const args = ['build', '-trimpath', '-ldflags', LDFLAGS[m].join(' '), '-o', out1, ...tools.map((t) => t.pkg)];
  const out = createWriteStream(logFile);
  out.write(`$ (cd ${moduleDir(root, m)} && go ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')})\n`);
  const code = await new Promise<number>((resolve, reject) => {
    const p = spawn('go', args, { cwd: moduleDir(root, m), stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.pipe(out, { end: false });
    p.stderr.pipe(out, { end: false });
    p.on('error', reject);
    p.on('close', (c) => resolve(c ?? 1));
  });
  await new Promise((r) => out.end(r));
  if (code !== 0) {
    const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
    throw new Error(`building ${tools.map((t) => t.bin).join(', ')} failed (go build exit ${code}; log: ${logFile}):\n${tail}`);
  }
}

async function kwokModuleDir(root: string): Promise<string> {
  const { stdout } = await run('go', ['mod', 'download', '-json', `sigs.k8s.io/kwok@${KWOK_VERSION}`], { cwd: moduleDir(root, 'kwok'), timeout: 10 * 60_000 });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download gave no directory for sigs.k8s.io/kwok@${KWOK_VERSION}`);
  return dir;
}

async function hasGo(): Promise<boolean> {
  try {
    await run('go', ['version'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure every Kubernetes tool of the lab is there, building what is missing
 * into <cache>/k8s-<hash>/, and returns their paths. Logs one line per tool.
 */
export async function installK8s(opts: { root: string; cache: string; log: (line: string) => void }): Promise<K8sBins> {
  const { root, cache, log } = opts;
  const dir = k8sCacheDir(root, cache);
  mkdirSync(dir, { recursive: true });
  const bins: Partial<K8sBins> = {};
  const t0 = Date.now();

  const resolveExisting = async (): Promise<Tool[]> => {
    const missing: Tool[] = [];
    for (const t of TOOLS) {
      if (bins[t.key]) continue;
      const cached = join(dir, t.bin);
      if (existsSync(cached) && (await hasVersion(cached, t))) {
        bins[t.key] = cached;
        continue;
      }
      const path = onPath(t.bin);
      if (path && (await hasVersion(path, t))) {
        log(`install: using ${t.bin} on PATH (${path})`);
        bins[t.key] = path;
        continue;
      }
      missing.push(t);
    }
    return missing;
  };

  const stages = join(dir, 'kwok-stages.yaml');
  let missing = await resolveExisting();
  if (missing.length || !existsSync(stages)) {
    if (!(await hasGo())) throw new Error(`Go is needed to build ${missing.map((t) => t.bin).join(', ') || 'kwok-stages.yaml'} (or put them on PATH at the pinned versions: Kubernetes ${K8S_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}, helm ${HELM_VERSION})`);
    await withLock(`${dir}.lock`, log, async () => {
      missing = await resolveExisting(); // another install may have built them meanwhile
      const tmp = join(dir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
      mkdirSync(tmp);
      try {
        for (const m of ['etcd', 'kwok', 'helm', 'kubernetes'] as Module[]) {
          const tools = missing.filter((t) => t.module === m);
          if (!tools.length) continue;
          const names = tools.map((t) => t.bin).join(', ');
          const tb = Date.now();
          log(`install: building ${names} from source (${m === 'kubernetes' ? `k8s.io/kubernetes ${K8S_VERSION}` : m === 'etcd' ? `etcd ${ETCD_VERSION}` : m === 'kwok' ? `kwok ${KWOK_VERSION}` : `helm ${HELM_VERSION}`}) ...`);
          await goBuild(root, m, tools, tmp, join(cache, `k8s-build-${m}.log`));
          for (const t of tools) {
            const built = join(tmp, t.bin);
            if (!(await hasVersion(built, t))) throw new Error(`the ${t.bin} just built does not report the pinned version (${t.version.args.join(' ')} should match ${t.version.expect})`);
            renameSync(built, join(dir, t.bin));
            bins[t.key] = join(dir, t.bin);
          }
          log(`install: built ${names} in ${elapsed(tb)}`);
        }
        if (!existsSync(stages)) {
          const kdir = await kwokModuleDir(root);
          const text = KWOK_STAGE_FILES.map((f) => `# from sigs.k8s.io/kwok@${KWOK_VERSION} ${f}\n${readFileSync(join(kdir, f), 'utf8').trim()}\n`).join('---\n');
          const t = join(tmp, 'kwok-stages.yaml');
          writeFileSync(t, text);
          renameSync(t, stages);
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
  bins.kwokStages = stages;
  log(`install: Kubernetes tools ready in ${elapsed(t0)} (${dir})`);
  return bins as K8sBins;
}
