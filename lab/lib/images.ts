// `lab/bin/images`: Docker mode's images built on this machine from what the process
// lab already installs (same pinned versions), for machines that cannot pull images
// (CI here). Each is a root filesystem assembled from host files and imported with
// `docker import` (FROM scratch in effect): the program, and every shared library
// `ldd` says it loads, at the same paths as on the host.
//
//   vault  the lab's Vault server (lab/lib/install-vault.ts) at /bin/vault
//   moto   the host's Python (its standard library, no site-packages) and the lab's
//          moto venv, at their host paths; entrypoint `moto_server -H 0.0.0.0`, port
//          MOTO_PORT=5000, as motoserver/moto's
//   node   this Node.js at /usr/local/bin/node, for the lab's STS front
//
// Tagged vault-irsa-runbook-lab/<name>:<version>-<recipe hash>; the hash covers the
// tool's own recipe key, every file copied in (by path and size) and this file, so a
// changed recipe builds a new image and an unchanged one is found and reused. Linux only:
// the images are made of this machine's binaries.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, symlinkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashOf, toolVersion, type Log } from './install-common.js';
import { installMoto, motoRecipe } from './install-moto.js';
import { installVault, vaultRecipe } from './install-vault.js';
import { docker, dockerEngine, firstLine } from './docker.js';
import { LabError, MOTO_VERSION, VAULT_VERSION, elapsed, type LabImage } from './settings.js';

const THIS_FILE = fileURLToPath(import.meta.url);
export const LOCAL_REPO = 'vault-irsa-runbook-lab';

interface Plan {
  name: LabImage;
  /** Files and folders to copy, at their own path (host path = image path unless `to`). */
  copies: { from: string; to: string; skip?: (rel: string) => boolean }[];
  /** Programs and libraries whose `ldd` libraries go in too. */
  elves: string[];
  changes: string[];
  key: string;
  tag: string;
}

/** Shared libraries `ldd` names for these files (absolute host paths), the loader included. */
export function lddLibraries(files: string[]): string[] {
  const out = new Set<string>();
  for (let i = 0; i < files.length; i += 50) {
    let text = '';
    try {
      text = execFileSync('ldd', files.slice(i, i + 50), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      // ldd exits 1 when one of several files is not dynamic; its output still counts.
      text = String((e as { stdout?: unknown }).stdout ?? '');
    }
    for (const line of text.split('\n')) {
      if (/=>\s*not found/.test(line)) throw new LabError(`a library the image needs is missing on this machine: ${line.trim()}`);
      const m = /=>\s*(\/\S+)\s*\(/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
      if (m) out.add(m[1]!);
    }
  }
  return [...out].sort();
}

function walk(dir: string, skip: (rel: string) => boolean, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (skip(r)) continue;
    if (e.isDirectory()) out.push(...walk(dir, skip, r));
    else out.push(r);
  }
  return out;
}

/** A symlink, the links it goes through, and the file it ends at (host paths). */
function linkChain(p: string): string[] {
  const out = [p];
  for (let i = 0; i < 20 && lstatSync(p).isSymbolicLink(); i++) {
    p = resolve(dirname(p), readlinkSync(p));
    out.push(p);
  }
  return out;
}

const isElf = (f: string) => /\.so(\.|$)/.test(f);

async function plans(root: string, cache: string, log: Log, only?: LabImage[]): Promise<Plan[]> {
  const want = (n: LabImage) => !only || only.includes(n);
  const own = readFileSync(THIS_FILE);
  const out: Plan[] = [];
  if (want('vault')) {
    const vault = (await installVault(root, cache, log)).bin;
    const elves = [vault];
    const key = hashOf(['vault image', vaultRecipe(root).key, vault, String(statSync(vault).size), ...lddLibraries(elves), own]);
    out.push({
      name: 'vault',
      copies: [{ from: vault, to: '/bin/vault' }],
      elves,
      changes: ['ENTRYPOINT ["/bin/vault"]', 'CMD ["server", "-dev", "-dev-listen-address=0.0.0.0:8200"]', 'EXPOSE 8200'],
      key,
      tag: `${LOCAL_REPO}/vault:${VAULT_VERSION}-${key}`,
    });
  }
  if (want('moto')) {
    const bin = (await installMoto(root, cache, log)).bin;
    const venv = dirname(dirname(bin));
    const py = realpathSync(join(venv, 'bin', 'python3'));
    const prefix = dirname(dirname(py));
    const ver = /python(\d+\.\d+)$/.exec(py)?.[1];
    if (!ver || !existsSync(join(prefix, 'lib', `python${ver}`, 'os.py'))) throw new LabError(`the moto venv's Python (${py}) has no standard library under ${prefix}/lib: rebuild the venv (remove ${venv}) or use the upstream image (unset LAB_IMAGES)`);
    const stdlib = join(prefix, 'lib', `python${ver}`);
    const stdSkip = (r: string) => /^(site-packages|test|idlelib|tkinter|turtledemo|ensurepip|lib2to3|config-[^/]*)(\/|$)/.test(r);
    const venvSkip = (r: string) => /^(bin\/Activate|include)/.test(r);
    const libpy = readdirSync(join(prefix, 'lib')).filter((f) => /^libpython.*\.so/.test(f)).map((f) => join(prefix, 'lib', f));
    const elves = [py, ...libpy.filter((f) => lstatSync(f).isFile()), ...walk(stdlib, stdSkip).filter(isElf).map((f) => join(stdlib, f)), ...walk(venv, venvSkip).filter(isElf).map((f) => join(venv, f))];
    const key = hashOf(['moto image', motoRecipe(root).key, toolVersion(py, ['--version']), venv, prefix, ...lddLibraries(elves), own]);
    out.push({
      name: 'moto',
      copies: [
        // The venv's python3 and every link on the way to the real binary (the shebang of moto_server).
        ...linkChain(join(venv, 'bin', 'python3')).map((f) => ({ from: f, to: f })),
        ...libpy.map((f) => ({ from: f, to: f })),
        { from: stdlib, to: stdlib, skip: stdSkip },
        { from: venv, to: venv, skip: venvSkip },
      ],
      elves,
      changes: [`ENTRYPOINT ["${bin}", "-H", "0.0.0.0"]`, 'ENV MOTO_PORT=5000', 'EXPOSE 5000'],
      key,
      tag: `${LOCAL_REPO}/moto:${MOTO_VERSION}-${key}`,
    });
  }
  if (want('node')) {
    const node = realpathSync(process.execPath);
    const elves = [node];
    const key = hashOf(['node image', process.version, node, String(statSync(node).size), ...lddLibraries(elves), own]);
    out.push({
      name: 'node',
      copies: [{ from: node, to: '/usr/local/bin/node' }],
      elves,
      changes: ['ENTRYPOINT ["/usr/local/bin/node"]'],
      key,
      tag: `${LOCAL_REPO}/node:${process.version.slice(1)}-${key}`,
    });
  }
  return out;
}

/** The local images' tags for the current recipes (does not build; installs the tools if missing). */
export async function localImageTags(root: string, cache: string, log: Log): Promise<Record<LabImage, string>> {
  const p = await plans(root, cache, log);
  return Object.fromEntries(p.map((x) => [x.name, x.tag])) as Record<LabImage, string>;
}

/** Copy a file, link or tree to stage/to; links stay links, `skip` leaves out paths relative to `from`. */
function copyInto(stage: string, from: string, to: string, skip?: (rel: string) => boolean): void {
  const one = (src: string, dest: string, rel: string): void => {
    if (rel && skip?.(rel)) return;
    const st = lstatSync(src);
    // Already there (a library ldd named twice, a folder made for an earlier copy): keep it.
    if (st.isDirectory() && !isLink(dest) && existsSync(dest)) {
      for (const e of readdirSync(src)) one(join(src, e), join(dest, e), rel ? `${rel}/${e}` : e);
      return;
    }
    if (existsSync(dest) || isLink(dest)) return;
    if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dest);
      // A link out of the tree (Debian's python3.11/sitecustomize.py -> /etc/python3.11/):
      // its target comes too, or the image would hold a dangling link.
      let target: string | undefined;
      try {
        target = realpathSync(src);
      } catch {
        target = undefined;
      }
      if (target && target !== from && !target.startsWith(from + '/') && statSync(target).isFile()) copyInto(stage, target, target);
    }
    else if (st.isDirectory()) {
      mkdirSync(dest, { mode: st.mode & 0o7777 });
      for (const e of readdirSync(src)) one(join(src, e), join(dest, e), rel ? `${rel}/${e}` : e);
    } else if (st.isFile()) {
      copyFileSync(src, dest);
      chmodSync(dest, st.mode & 0o7777);
    }
  };
  const dest = join(stage, to);
  mkdirSync(dirname(dest), { recursive: true });
  one(from, dest, '');
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

async function importTar(stage: string, tag: string, changes: string[], labels: string[], logFile: string): Promise<void> {
  const args = ['import', ...changes.flatMap((c) => ['--change', c]), ...labels.flatMap((l) => ['--change', `LABEL ${l}`]), '-', tag];
  await new Promise<void>((resolveP, reject) => {
    const tar = spawn('tar', ['-C', stage, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const imp = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    tar.stderr.on('data', (b: Buffer) => (err += b.toString()));
    imp.stderr.on('data', (b: Buffer) => (err += b.toString()));
    tar.stdout.pipe(imp.stdin);
    imp.on('error', (e) => reject(new LabError(`docker import ${tag} could not start: ${e.message}`)));
    imp.on('close', (c) => {
      if (c === 0) resolveP();
      else reject(new LabError(`docker import ${tag} failed: ${firstLine(err) || `exit ${c}`} (stage kept out of the way; see ${logFile})`));
    });
  });
}

export interface BuiltImage {
  name: LabImage;
  tag: string;
  built: boolean;
}

/** Build (or find) the lab's local images; returns their tags. */
export async function buildImages(root: string, cache: string, log: Log, only?: LabImage[]): Promise<BuiltImage[]> {
  if (process.platform !== 'linux') throw new LabError(`the lab's local images are made of this machine's Linux binaries, and this is ${process.platform}: use the pinned upstream images (unset LAB_IMAGES)`);
  const engine = await dockerEngine();
  if (!engine.ok) throw new LabError(engine.why);
  const out: BuiltImage[] = [];
  for (const p of await plans(root, cache, log, only)) {
    if ((await docker(['image', 'inspect', '--format', '{{.Id}}', p.tag])).code === 0) {
      out.push({ name: p.name, tag: p.tag, built: false });
      continue;
    }
    const t0 = performance.now();
    log(`images: building ${p.tag} from this machine's files ...`);
    const stage = join(cache, `image-${p.name}-${p.key}.stage`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    try {
      for (const c of p.copies) copyInto(stage, c.from, c.to, c.skip);
      for (const lib of lddLibraries(p.elves)) {
        const dest = join(stage, lib);
        if (existsSync(dest)) continue;
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(realpathSync(lib), dest); // the library itself, under the name the loader asks for
      }
      mkdirSync(join(stage, 'tmp'), { recursive: true });
      chmodSync(join(stage, 'tmp'), 0o1777);
      mkdirSync(join(stage, 'etc'), { recursive: true });
      await importTar(stage, p.tag, p.changes, [`${LOCAL_REPO}.recipe=${p.key}`], join(cache, 'logs'));
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
    const size = (await docker(['image', 'inspect', '--format', '{{.Size}}', p.tag])).stdout.trim();
    log(`images: ${p.tag} built in ${elapsed(t0)} (${(Number(size) / 1e6).toFixed(0)} MB)`);
    out.push({ name: p.name, tag: p.tag, built: true });
  }
  return out;
}
