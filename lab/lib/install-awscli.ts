// The aws CLI for the pasted reference (LAB_AWS_CLI=1): pip "awscli==AWSCLI_VERSION"
// (v1, the one pip installs; it reads only AWS_DEFAULT_REGION and ignores
// AWS_ENDPOINT_URL, so the reference must work without both) into a venv in the
// lab cache, keyed by a hash of its recipe. A file of its own, so the moto and
// vault cache keys do not change with it.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON_FILE, hashOf, onPath, runLogged, toolVersion, type Log } from './install-common.js';
import { LabError, elapsed } from './settings.js';

/** Pinned: the doc test pastes the reference into a shell with this CLI. */
export const AWSCLI_VERSION = '1.44.0';

const THIS_FILE = fileURLToPath(import.meta.url);

export function awsCliRecipe(): { key: string; dir: string } {
  const py = toolVersion('python3', ['--version']);
  const key = hashOf([`awscli ${AWSCLI_VERSION}`, py, readFileSync(THIS_FILE), readFileSync(COMMON_FILE)]);
  return { key, dir: `awscli-${AWSCLI_VERSION}-${key}` };
}

export async function installAwsCli(cache: string, log: Log): Promise<{ bin: string; took?: number }> {
  const { dir } = awsCliRecipe();
  const venv = join(cache, dir);
  const bin = join(venv, 'bin', 'aws');
  if (existsSync(join(venv, '.installed')) && existsSync(bin)) return { bin };
  if (!onPath('python3')) throw new LabError('python3 is required to install the aws CLI (LAB_AWS_CLI=1): install Python 3.9 or newer');
  const t0 = performance.now();
  log(`install: aws CLI ${AWSCLI_VERSION} -> ${venv} (pip, LAB_AWS_CLI=1) ...`);
  rmSync(venv, { recursive: true, force: true });
  const logFile = join(cache, 'logs', 'awscli-install.log');
  writeFileSync(logFile, '');
  try {
    await runLogged('python3', ['-m', 'venv', venv], { log: logFile, what: `creating a Python venv at ${venv} (is python3-venv installed?)` });
    await runLogged(join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `awscli==${AWSCLI_VERSION}`], {
      log: logFile,
      what: `pip install awscli==${AWSCLI_VERSION}`,
    });
  } catch (e) {
    rmSync(venv, { recursive: true, force: true });
    throw e;
  }
  const got = toolVersion(join(venv, 'bin', 'python'), ['-c', 'import awscli; print(awscli.__version__)']);
  if (got !== AWSCLI_VERSION) throw new LabError(`installed aws CLI is ${got || 'unknown'}, expected ${AWSCLI_VERSION}: remove ${venv} and run make lab-up again`);
  writeFileSync(join(venv, '.installed'), new Date().toISOString() + '\n');
  log(`install: aws CLI ${AWSCLI_VERSION} installed in ${elapsed(t0)}`);
  return { bin, took: (performance.now() - t0) / 1000 };
}
