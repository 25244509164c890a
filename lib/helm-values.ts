// Keeping what a user has in a Helm release (issue 13): the runbook's values are
// merged OVER the release's user-supplied values (`helm get values -o json`),
// exactly as `helm upgrade -f user.yaml -f runbook.yaml` merges them (maps deep,
// everything else replaced). We merge ourselves instead of `--reuse-values` so
// that what changes is known before the upgrade: a user value the merge would
// remove (a list or a map replaced by a runbook key), or a chart version older
// than the installed one, is destructive and needs --yes.

export type Values = Record<string, unknown>;

function isMap(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Pure: helm's merge of -f files: `over` wins; maps are merged key by key; null removes a key. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k] as Values, v);
    else out[k] = v;
  }
  return out;
}

/** Pure: the leaves of a values tree as dotted paths (lists and empty maps are leaves). */
export function leaves(v: Values, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, x] of Object.entries(v)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (isMap(x) && Object.keys(x).length) for (const [q, y] of leaves(x, p)) out.set(q, y);
    else out.set(p, x);
  }
  return out;
}

export interface ValuesPlan {
  /** What the release will carry: the user's values with the runbook's keys over them. */
  merged: Values;
  /** One line per runbook-owned leaf that changes: `path: live -> wanted`. */
  changes: string[];
  /** User leaves the merge removes or replaces with something of another shape (destructive). */
  dropped: string[];
}

/** Pure: what upgrading a release with user values `live` to the runbook's `wanted` does. */
export function planValues(live: Values, wanted: Values): ValuesPlan {
  const merged = mergeValues(live, wanted);
  const before = leaves(live);
  const after = leaves(merged);
  const changes: string[] = [];
  for (const [p, v] of leaves(wanted)) {
    const a = JSON.stringify(before.get(p));
    const b = JSON.stringify(v);
    if (a !== b) changes.push(`${p}: ${a ?? '(unset)'} -> ${b}`);
  }
  const dropped = [...before.keys()].filter((p) => !after.has(p)).map((p) => `${p}: ${JSON.stringify(before.get(p))} (set by the user) would be removed`);
  return { merged, changes, dropped };
}

/** Pure: the chart version of `helm list`'s chart field (`gloo-1.16.0` -> `1.16.0`). */
export function chartVersionOf(chartField: string, chartName: string): string {
  return chartField.startsWith(`${chartName}-`) ? chartField.slice(chartName.length + 1) : chartField.replace(/^.*?-(?=v?\d)/, '');
}

/**
 * Pure: true when installing version `wanted` (a version or a range like v1.16.x)
 * over `installed` moves the chart BACKWARDS. Wildcards match anything; a
 * pre-release is older than its release; undecidable versions are not backwards.
 */
export function isDowngrade(wanted: string, installed: string): boolean {
  const parse = (v: string): { nums: string[]; pre: string } | undefined => {
    const m = /^v?(\d+|x|\*)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$/.exec(v.trim());
    return m ? { nums: [m[1]!, m[2] ?? 'x', m[3] ?? 'x'], pre: m[4] ?? '' } : undefined;
  };
  const w = parse(wanted);
  const i = parse(installed);
  if (!w || !i) return false;
  for (let k = 0; k < 3; k++) {
    const a = w.nums[k]!;
    const b = i.nums[k]!;
    if (a === 'x' || a === '*' || b === 'x' || b === '*') return false;
    if (Number(a) !== Number(b)) return Number(a) < Number(b);
  }
  if (w.pre === i.pre) return false;
  if (!w.pre) return false; // a release is newer than its pre-releases
  if (!i.pre) return true;
  return w.pre.localeCompare(i.pre, 'en', { numeric: true }) < 0;
}
