// vault: `vault` on PATH if there is one; else the lab's Vault server built from
// HashiCorp Vault's own packages (lab/vault-lite: core, in-memory storage, the HTTP API,
// the built-in AWS auth method and KV — about 1,650 packages instead of the full
// binary's 2,590) as a package of the wrapper module lab/vault-build. That module's
// go.mod replaces the sdk with ./sdk, which this install prepares from the module
// proxy's sdk v0.21.0 and lab/vault-build/*.patch, in a build folder inside the cache.
// Keyed by a hash of its recipe (version, Go, every file in lab/vault-build and
// lab/vault-lite, this file and install-common.ts).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_FILE, hashOf, onPath, runLogged, toolVersion, type Log } from './install-common.js';
import { LabError, VAULT_VERSION, elapsed } from './settings.js';

export const VAULT_SDK = 'github.com/hashicorp/vault/sdk@v0.21.0';
const THIS_FILE = fileURLToPath(import.meta.url);

export function vaultRecipe(root: string): { key: string; file: string } {
  const vb = join(root, 'lab', 'vault-build');
  const files = readdirSync(vb)
    .filter((f) => f === 'go.mod' || f === 'go.sum' || f.endsWith('.go') || f.endsWith('.patch'))
    .sort();
  const lite = join(root, 'lab', 'vault-lite', 'main.go');
  const key = hashOf([`vault ${VAULT_VERSION}`, VAULT_SDK, toolVersion('go', ['version']), ...files.flatMap((f) => [f, readFileSync(join(vb, f))]), 'vault-lite/main.go', readFileSync(lite), readFileSync(THIS_FILE), readFileSync(COMMON_FILE)]);
  return { key, file: `vault-${VAULT_VERSION}-${key}` };
}

/** Make every file and folder under p writable by its owner (the module cache is read-only). */
function makeWritable(p: string): void {
  const st = statSync(p);
  chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const e of readdirSync(p)) makeWritable(join(p, e));
}

/**
 * What to build: the lab's server (`./vault-lite`, the default) or, for workshops and
 * the pasted reference, the full `vault` binary whose CLI participants type
 * (LAB_VAULT_CLI=1: the same recipe, ~930 more packages).
 */
export type VaultTarget = 'server' | 'cli';

export async function installVault(root: string, cache: string, log: Log, target: VaultTarget = 'server'): Promise<{ bin: string; took?: number }> {
  const fromPath = onPath('vault');
  if (fromPath) {
    if (target === 'server') log(`install: using vault on PATH (${fromPath}: ${toolVersion(fromPath, ['version']).split('\n')[0]})`);
    return { bin: fromPath };
  }
  const { key, file } = vaultRecipe(root);
  const bin = join(cache, target === 'server' ? file : file.replace(/^vault-/, 'vault-cli-'));
  if (existsSync(bin) && toolVersion(bin, ['version']).includes(`Vault v${VAULT_VERSION}`)) return { bin };
  if (!onPath('go')) throw new LabError('vault is not on PATH and Go is not installed to build it: install Go 1.25 or newer, or put a vault binary on PATH');
  if (!onPath('patch')) throw new LabError('the patch tool is required to build vault: install it (Debian: apt-get install patch; macOS: xcode-select --install)');
  const t0 = performance.now();
  const logFile = join(cache, 'logs', `vault-${target}-build.log`);
  writeFileSync(logFile, '');
  // The build folder lives in the cache, keyed like the binary, so two checkouts
  // or two caches never share a half-prepared ./sdk.
  const work = join(cache, `vault-${target}-build-${key}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const vb = join(root, 'lab', 'vault-build');
  for (const f of readdirSync(vb)) if (f === 'go.mod' || f === 'go.sum' || f.endsWith('.go')) cpSync(join(vb, f), join(work, f));
  mkdirSync(join(work, 'vault-lite'));
  cpSync(join(root, 'lab', 'vault-lite', 'main.go'), join(work, 'vault-lite', 'main.go'));
  try {
    log(`install: vault ${VAULT_VERSION}: preparing ${VAULT_SDK} with lab/vault-build/sdk-v0.21.0.patch ...`);
    const dl = execFileSync('go', ['mod', 'download', '-json', VAULT_SDK], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const sdkDir = (JSON.parse(dl) as { Dir?: string; Error?: string }).Dir;
    if (!sdkDir) throw new LabError(`go mod download ${VAULT_SDK} gave no folder: check that the Go module proxy is reachable (GOPROXY)`);
    cpSync(sdkDir, join(work, 'sdk'), { recursive: true });
    makeWritable(join(work, 'sdk'));
    for (const p of readdirSync(vb).filter((f) => f.endsWith('.patch')).sort())
      await runLogged('patch', ['-p1', '-s', '-i', join(vb, p)], { cwd: join(work, 'sdk'), log: logFile, what: `applying ${p} to the vault sdk` });
    log(
      target === 'server'
        ? `install: building the lab's vault ${VAULT_VERSION} server from source -> ${bin} (slow: about 5 minutes on 2 cores with empty Go caches, under a minute with warm ones) ...`
        : `install: building the vault ${VAULT_VERSION} CLI from source -> ${bin} (LAB_VAULT_CLI=1; minutes more after the server) ...`,
    );
    await runLogged('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', `${bin}.tmp`, target === 'server' ? './vault-lite' : 'github.com/hashicorp/vault'], {
      cwd: work,
      log: logFile,
      what: `building vault ${VAULT_VERSION} (${target})`,
    });
    renameSync(`${bin}.tmp`, bin);
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(`${bin}.tmp`, { force: true });
  }
  const took = (performance.now() - t0) / 1000;
  log(`install: vault ${VAULT_VERSION} ${target} built in ${elapsed(t0)}`);
  return { bin, took };
}
