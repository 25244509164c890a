// The lab's install and start-up, for `make bench` (timings live here only):
//   empty lab cache    lab/bin/install into a new, empty LAB_CACHE with Go's and pip's own
//                      caches as they are (what CI proves on every run)
//   cold               also with empty Go module and build caches and no pip cache
//                      (a fresh machine); slow, so only with BENCH_COLD=1
//   warm lab-up        lab/bin/up of a second lab (own ports and dir) with a warm cache
// The cold figure is kept in bench/install-cold.json, so a bench without BENCH_COLD shows
// the last one measured and its date.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export interface InstallFigures {
  emptyLabCacheS: number;
  warmLabUpS: number;
  cold?: { seconds: number; date: string; goModules: string; measuredNow: boolean };
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, what: string): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

export function measureInstall(root: string, say: (s: string) => void): InstallFigures {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-bench-install-'));
  const base: NodeJS.ProcessEnv = { ...process.env, PATH: process.env.PATH ?? '' };
  for (const k of ['LAB_DIR', 'LAB_MOTO_PORT', 'LAB_VAULT_PORT', 'LAB_ISSUER_PORT', 'LAB_STS_PROXY_PORT']) delete base[k];
  try {
    say('  install into an empty lab cache (Go and pip caches as they are) ...');
    const cache = path.join(tmp, 'lab-cache');
    const emptyLabCacheS = timed(path.join(root, 'lab', 'bin', 'install'), [], { ...base, LAB_CACHE: cache }, root, 'lab/bin/install (empty lab cache)');

    say('  warm lab-up of a second lab ...');
    const labEnv = { ...base, LAB_CACHE: cache, LAB_DIR: path.join(tmp, 'lab'), LAB_STATE_DIR: path.join(tmp, 'state'), LAB_MOTO_PORT: '34966', LAB_VAULT_PORT: '34900', LAB_ISSUER_PORT: '34981', LAB_STS_PROXY_PORT: '34982' };
    let warmLabUpS: number;
    try {
      warmLabUpS = timed(path.join(root, 'lab', 'bin', 'up'), [], labEnv, root, 'lab/bin/up (second lab)');
    } finally {
      spawnSync(path.join(root, 'lab', 'bin', 'down'), [], { env: labEnv, cwd: root });
    }

    const coldFile = path.join(root, 'bench', 'install-cold.json');
    let cold: InstallFigures['cold'];
    if (process.env.BENCH_COLD === '1') {
      say('  cold install: empty lab cache, empty Go module and build caches, no pip cache (about 10 minutes) ...');
      const coldEnv = { ...base, LAB_CACHE: path.join(tmp, 'cold-cache'), GOMODCACHE: path.join(tmp, 'gomod'), GOCACHE: path.join(tmp, 'gobuild'), PIP_NO_CACHE_DIR: '1', PATH: (base.PATH ?? '').split(':').filter((d) => !fs.existsSync(path.join(d, 'vault'))).join(':') };
      const seconds = timed(path.join(root, 'lab', 'bin', 'install'), [], coldEnv, root, 'lab/bin/install (cold)');
      cold = { seconds, date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', goModules: 'empty', measuredNow: true };
      fs.writeFileSync(coldFile, JSON.stringify({ seconds, date: cold.date, machine: `${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB` }, null, 2) + '\n');
      spawnSync('chmod', ['-R', 'u+w', path.join(tmp, 'gomod')]);
    } else if (fs.existsSync(coldFile)) {
      const c = JSON.parse(fs.readFileSync(coldFile, 'utf8')) as { seconds: number; date: string };
      cold = { seconds: c.seconds, date: c.date, goModules: 'empty', measuredNow: false };
    }
    return { emptyLabCacheS, warmLabUpS, cold };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function installTable(f: InstallFigures): string[] {
  const s = (x: number) => (x >= 120 ? `${(x / 60).toFixed(1)} min` : `${x.toFixed(1)} s`);
  return [
    '| lab install and start | what | time | target |',
    '| --- | --- | --- | --- |',
    `| cold install | empty lab cache, empty Go module and build caches, no pip cache (${f.cold ? (f.cold.measuredNow ? 'measured in this run' : `last measured ${f.cold.date} with BENCH_COLD=1`) : 'not measured yet: BENCH_COLD=1 make bench'}) | ${f.cold ? s(f.cold.seconds) : '—'} | ≤ 10 min |`,
    `| install, empty lab cache | what CI does on every run: Go's and pip's caches warm | ${s(f.emptyLabCacheS)} | — |`,
    `| warm \`lab-up\` | a second lab started with the tools cached | ${s(f.warmLabUpS)} | — |`,
  ];
}
