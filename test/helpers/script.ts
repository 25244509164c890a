// How a test starts a runbook script (runbook/NN-name.ts, runbook/all.ts ...) in a process of
// its own: as users run it, the bundle in dist/ (build.mjs; `make test` builds it first) when
// that is up to date with every source it is built from, by the rule lab/lib/node-run uses;
// otherwise the TypeScript through tsx (a test file run by hand after an edit, before make
// built). The same code either way; the bundle starts on a fifth of the CPU (0.08 s, tsx
// 0.33 s), and some files start dozens of scripts while others run beside them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let fresh: boolean | undefined;
/** dist/ is newer than every source it is built from (the Makefile's BUILD_INPUTS, as node-run checks them). */
export function distFresh(): boolean {
  if (fresh !== undefined) return fresh;
  const stamp = path.join(root, 'dist', '.built');
  if (!fs.existsSync(stamp)) return (fresh = false);
  const newer = execFileSync('sh', ['-c', `find build.mjs package-lock.json lib runbook lab/lib -newer dist/.built \\( -type d -o -name '*.ts' -o -name '*.json' -o -name '*.mjs' \\) 2>/dev/null | head -n 1`], { cwd: root, encoding: 'utf8' });
  return (fresh = newer.trim() === '');
}

/** node's arguments to run `file` (a path under the project, e.g. runbook/05-enable-aws-auth.ts), then `args`. */
export function scriptArgs(file: string, ...args: string[]): string[] {
  const rel = path.relative(root, path.resolve(root, file));
  const bundle = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
  return distFresh() && fs.existsSync(bundle) ? [bundle, ...args] : ['--import', 'tsx', path.join(root, rel), ...args];
}
