// Installs the lab's pinned tools into a per-user cache (LAB_CACHE, default
// ~/.cache/vault-irsa-runbook). Each tool's folder is keyed by a hash of its whole
// recipe — the tool version, the toolchain, every file the build reads and its
// install code (install-moto.ts, install-vault.ts, install-common.ts) — so a changed
// recipe rebuilds and an unchanged one is a fast no-op. Old builds are not pruned:
// other checkouts (branches) may share the cache with other recipes.
//
// One installer at a time per cache (the runbook's own lock); a second waits.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock } from '../../lib/state.js';
import { LockError } from '../../lib/errors.js';
import { installMoto } from './install-moto.js';
import { installVault } from './install-vault.js';
import { installAwsCli } from './install-awscli.js';
import type { Log } from './install-common.js';
import { installK8s, type K8sBins } from './k8s-install.js';
import { LabError, MOTO_VERSION, VAULT_VERSION, elapsed } from './settings.js';

export interface Installed {
  motoServer: string;
  vault: string;
  /** The vault CLI (full binary), when LAB_VAULT_CLI=1 asked for it or vault is on PATH. */
  vaultCli?: string;
  /** The Kubernetes tools (etcd, kube-apiserver, ..., kubectl, helm), when LAB_K8S=1 asked for them. */
  k8s?: K8sBins;
  /** The aws CLI (v1, pip), when LAB_AWS_CLI=1 asked for it. */
  awsCli?: string;
  /** Seconds each tool took to install now (absent when it was cached). */
  took: Record<string, number>;
}

export async function install(root: string, cache: string, log: Log = (l) => console.log(l), opts: { vaultCli?: boolean; awsCli?: boolean; k8s?: boolean } = {}): Promise<Installed> {
  mkdirSync(join(cache, 'logs'), { recursive: true });
  let release: (() => void) | undefined;
  let announced = false;
  const waitStart = performance.now();
  while (!release) {
    try {
      release = acquireLock(`lab-install|${cache}`, cache);
    } catch (e) {
      if (!(e instanceof LockError)) throw e;
      if (!announced) log('install: another install is running for this cache, waiting for it ...');
      announced = true;
      if (performance.now() - waitStart > 60 * 60_000) throw new LabError(`waited an hour for another install in ${cache}: stop it, or set LAB_CACHE to another folder`);
      await sleep(2000);
    }
  }
  try {
    const t0 = performance.now();
    const moto = await installMoto(root, cache, log);
    const vault = await installVault(root, cache, log);
    const cli = opts.vaultCli ? await installVault(root, cache, log, 'cli') : undefined;
    // Its own cache folder and lock (k8s-install.ts): quiet and fast when cached.
    const k8s = opts.k8s
      ? await installK8s({ root, cache, log }).catch((e: unknown) => {
          throw new LabError(`the lab's Kubernetes tools (LAB_K8S=1) could not be installed: ${(e as Error).message}`, { cause: e });
        })
      : undefined;
    const aws = opts.awsCli ? await installAwsCli(cache, log) : undefined;
    const took: Record<string, number> = {};
    if (aws?.took !== undefined) took.awsCli = aws.took;
    if (moto.took !== undefined) took.moto = moto.took;
    if (vault.took !== undefined) took.vault = vault.took;
    if (cli?.took !== undefined) took.vaultCli = cli.took;
    if (!Object.keys(took).length) log(`install: moto ${MOTO_VERSION} and vault ${VAULT_VERSION} ready (cached in ${cache})`);
    else {
      log(`install: done in ${elapsed(t0)}`);
      writeFileSync(join(cache, 'last-install.json'), JSON.stringify({ at: new Date().toISOString(), seconds: took }, null, 2) + '\n');
    }
    return { motoServer: moto.bin, vault: vault.bin, vaultCli: cli?.bin, awsCli: aws?.bin, k8s, took };
  } finally {
    release();
  }
}
