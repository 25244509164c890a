// The Vault policy Gloo's role gets (GUIDE §05–07), built as data and rendered
// as HCL. Drift is judged on the policy text, as terraform-provider-vault's
// vault_policy does, after normalising what cannot change its meaning:
// comments, whitespace, the order of path blocks and of capabilities. No HCL
// parser: anything else that differs is drift. Pure functions only.

export interface PolicyRule {
  path: string;
  capabilities: string[];
  /** Other attributes of a path block, kept as canonical text (e.g. allowed_parameters). */
  extra?: Record<string, string>;
}

/** The guide's policy `dev`: read/write the KV mount, list its root, read sys/mounts (Gloo lists mounts). */
export function glooPolicyRules(kvMount: string): PolicyRule[] {
  return [
    { path: `${kvMount}/*`, capabilities: ['create', 'read', 'update', 'delete', 'list'] },
    { path: `${kvMount}/`, capabilities: ['list'] },
    { path: 'sys/mounts', capabilities: ['read', 'list'] },
  ];
}

const COMMENTS: Record<string, string> = {
  0: 'Access to the KV mount Gloo reads and writes',
  1: 'Additional access for the UI and for listing the mount',
  2: 'Gloo checks the mount type',
};

function renderRules(rules: PolicyRule[], comments = false): string {
  return rules
    .map((r, i) => {
      const lines: string[] = [];
      if (comments && COMMENTS[i]) lines.push(`# ${COMMENTS[i]}`);
      lines.push(`path ${JSON.stringify(r.path)} {`);
      lines.push(`  capabilities = [${r.capabilities.map((c) => JSON.stringify(c)).join(', ')}]`);
      for (const [k, v] of Object.entries(r.extra ?? {})) lines.push(`  ${k} = ${v}`);
      lines.push('}');
      return lines.join('\n');
    })
    .join('\n\n') + '\n';
}

/** The HCL text written to Vault (and shown in the manual commands). */
export function glooPolicyHcl(kvMount: string): string {
  return renderRules(glooPolicyRules(kvMount), true);
}

// ---- normalising -------------------------------------------------------------

const TOKEN = /"(?:\\.|[^"\\])*"|[{}[\]=,]|[^\s{}[\]=,"#/]+|\/(?!\/|\*)/g;
const COMMENT = /"(?:\\.|[^"\\])*"|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\//g;

/** Vault's JSON form of a policy, rendered as HCL so both forms compare alike. */
function fromJson(text: string): string | undefined {
  try {
    const doc = JSON.parse(text) as { path?: Record<string, { capabilities?: string[] }> };
    const rules = Object.entries(doc.path ?? {}).map(([path, body]) => ({ path, capabilities: body.capabilities ?? [] }));
    return Object.keys(doc).every((k) => k === 'path') ? renderRules(rules) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Canonical text of a policy: no comments, one space between tokens, trailing
 * commas dropped, capability lists sorted without duplicates, top-level blocks
 * sorted. Text that is not HCL at all still normalises (and then differs).
 */
export function normalizePolicy(text: string): string {
  const hcl = text.trim().startsWith('{') ? (fromJson(text.trim()) ?? text) : text;
  const tokens: string[] = hcl.replace(COMMENT, (m) => (m.startsWith('"') ? m : ' ')).match(TOKEN) ?? [];
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === ',' && (tokens[i + 1] === ']' || tokens[i + 1] === '}')) continue;
    out.push(t);
    if (t === 'capabilities' && tokens[i + 1] === '=' && tokens[i + 2] === '[') {
      const end = tokens.indexOf(']', i + 3);
      if (end < 0) continue;
      const caps = [...new Set(tokens.slice(i + 3, end).filter((c) => c !== ',').map((c) => c.toLowerCase()))].sort();
      out.push('=', '[', caps.join(' , '), ']');
      i = end;
    }
  }
  const blocks: string[] = [];
  let depth = 0;
  let current: string[] = [];
  for (const t of out) {
    current.push(t);
    if (t === '{') depth++;
    if (t === '}' && --depth === 0) {
      blocks.push(current.join(' '));
      current = [];
    }
  }
  if (current.length) blocks.push(current.join(' '));
  return blocks.sort().join('\n') + '\n';
}

export function samePolicy(live: string, wanted: string): boolean {
  // Equal text is the same policy: no parsing (the usual no-op re-run).
  return live === wanted || normalizePolicy(live) === normalizePolicy(wanted);
}
