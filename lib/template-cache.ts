// Step 10's `helm template` check, remembered. Rendering a chart is a pure function of the
// helm binary, the chart, the release, namespace and version, and the values: when none of
// them changed since a check passed, the same check passes again, and a no-op `make all`
// need not start helm twice (about 0.2 s) to learn it.
//
// Only a chart that is a local directory (GLOO_HELM_CHART=path, as in the lab) is remembered:
// its files are fingerprinted by path, size and modification time. A chart from a repository
// can change behind the same version range, so it is rendered every time. Only passing checks
// are kept: a failing one is run again, so its error is always today's. The file sits next to
// the state file (STATE_FILE's folder) and holds the last few keys; losing it costs one render.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeCacheFile } from './cache-file.js';
import { byCodeUnit } from './order.js';

export interface TemplateCheck {
  proven: string[];
}

const KEEP = 8;

/** A local chart directory's files (relative path, size, mtime), or undefined when the chart is not a directory. */
export function chartFingerprint(chart: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(chart);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodeUnit(a.name, b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = fs.statSync(p);
        lines.push(`${path.relative(chart, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(chart);
  return lines.join('\n');
}

/** The helm binary as a file: a new helm is a new key. */
export function binaryFingerprint(bin: string): string | undefined {
  try {
    const real = fs.realpathSync(bin);
    const s = fs.statSync(real);
    return `${real} ${s.size} ${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** Pure: the key of one check from everything its result depends on. */
export function templateKey(parts: Record<string, string | undefined>): string {
  return crypto.createHash('sha256').update(JSON.stringify(Object.entries(parts).sort(([a], [b]) => byCodeUnit(a, b)))).digest('hex');
}

export function cacheFileFor(stateFile: string): string {
  return path.join(path.dirname(path.resolve(stateFile)), 'template-checks.json');
}

type Entries = [string, TemplateCheck][];

function entries(file: string): Entries {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as Entries).filter((e) => Array.isArray(e) && typeof e[0] === 'string' && Array.isArray(e[1]?.proven)) : [];
  } catch {
    return [];
  }
}

export function readCheck(file: string, key: string): TemplateCheck | undefined {
  return entries(file).find(([k]) => k === key)?.[1];
}

/** Best effort, written whole (lib/cache-file.ts): a failure only means rendering next time. */
export function rememberCheck(file: string, key: string, check: TemplateCheck): void {
  const kept = [[key, check] as [string, TemplateCheck], ...entries(file).filter(([k]) => k !== key)].slice(0, KEEP);
  writeCacheFile(file, `${JSON.stringify(kept)}\n`);
}
