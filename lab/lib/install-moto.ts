// moto: pip "moto[server]==MOTO_VERSION" into a venv in the lab cache, keyed by a
// hash of its recipe (version, python, this file and install-common.ts).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_FILE, hashOf, onPath, runLogged, toolVersion, type Log } from './install-common.js';
import { LabError, MOTO_VERSION, elapsed } from './settings.js';

const THIS_FILE = fileURLToPath(import.meta.url);

export function motoRecipe(root: string): { key: string; dir: string } {
  const py = toolVersion('python3', ['--version']);
  const key = hashOf([`moto ${MOTO_VERSION}`, py, readFileSync(THIS_FILE), readFileSync(COMMON_FILE)]);
  return { key, dir: `moto-${MOTO_VERSION}-${key}` };
}

export async function installMoto(root: string, cache: string, log: Log): Promise<{ bin: string; took?: number }> {
  const { dir } = motoRecipe(root);
  const venv = join(cache, dir);
  const bin = join(venv, 'bin', 'moto_server');
  if (existsSync(join(venv, '.installed')) && existsSync(bin)) return { bin };
  if (!onPath('python3')) throw new LabError('python3 is required to install moto: install Python 3.9 or newer');
  const t0 = performance.now();
  log(`install: moto ${MOTO_VERSION} -> ${venv} (pip, about a minute) ...`);
  rmSync(venv, { recursive: true, force: true });
  const logFile = join(cache, 'logs', 'moto-install.log');
  writeFileSync(logFile, '');
  try {
    await runLogged('python3', ['-m', 'venv', venv], { log: logFile, what: `creating a Python venv at ${venv} (is python3-venv installed?)` });
    await runLogged(join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`], {
      log: logFile,
      what: `pip install moto[server]==${MOTO_VERSION}`,
    });
  } catch (e) {
    rmSync(venv, { recursive: true, force: true });
    throw e;
  }
  const got = toolVersion(join(venv, 'bin', 'python'), ['-c', 'import moto; print(moto.__version__)']);
  if (got !== MOTO_VERSION) throw new LabError(`installed moto is ${got || 'unknown'}, expected ${MOTO_VERSION}: remove ${venv} and run make lab-up again`);
  writeFileSync(join(venv, '.installed'), new Date().toISOString() + '\n');
  const took = (performance.now() - t0) / 1000;
  log(`install: moto ${MOTO_VERSION} installed in ${elapsed(t0)}`);
  return { bin, took };
}

