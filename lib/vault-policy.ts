// The Vault policy Gloo's role gets (SPEC §05–07), built as data and rendered
// as HCL, and a normaliser so drift is judged on meaning, not on layout:
// comments, whitespace, block order and capability order do not count.
// Pure functions only.

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

// ---- parsing ---------------------------------------------------------------
// Just enough HCL (and Vault's JSON policy form) for ACL policies:
//   path "<p>" { key = value ... }   value: string | number | bool | [values] | { key = value ... }

type Tok = { t: 'str' | 'ident' | 'num' | 'punct'; v: string };

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '#' || (c === '/' && text[i + 1] === '/')) { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '/' && text[i + 1] === '*') { const end = text.indexOf('*/', i + 2); if (end < 0) throw new Error('unterminated comment'); i = end + 2; continue; }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') { s += text[j + 1] ?? ''; j += 2; } else s += text[j++];
      }
      if (j >= text.length) throw new Error('unterminated string');
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if ('{}[]=,:'.includes(c)) { out.push({ t: 'punct', v: c }); i++; continue; }
    const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(i));
    if (m) { out.push({ t: 'ident', v: m[0] }); i += m[0].length; continue; }
    const n = /^-?\d+(?:\.\d+)?[a-z]*/.exec(text.slice(i));
    if (n) { out.push({ t: 'num', v: n[0] }); i += n[0].length; continue; }
    throw new Error(`unexpected character ${JSON.stringify(c)}`);
  }
  return out;
}

type Value = string | Value[] | { [k: string]: Value };

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}
  done(): boolean { return this.i >= this.toks.length; }
  peek(): Tok | undefined { return this.toks[this.i]; }
  next(): Tok {
    const t = this.toks[this.i++];
    if (!t) throw new Error('unexpected end of policy');
    return t;
  }
  expect(v: string): void {
    const t = this.next();
    if (t.v !== v || t.t !== 'punct') throw new Error(`expected ${v}, found ${t.v}`);
  }
  value(): Value {
    const t = this.next();
    if (t.t === 'str' || t.t === 'num' || t.t === 'ident') return t.v;
    if (t.v === '[') {
      const list: Value[] = [];
      while (this.peek()?.v !== ']') {
        list.push(this.value());
        if (this.peek()?.v === ',') this.next();
      }
      this.next();
      return list;
    }
    if (t.v === '{') return this.body('}');
    throw new Error(`unexpected ${t.v}`);
  }
  /** key = value pairs (and nested `key { … }` blocks) until `close`. */
  body(close: string): { [k: string]: Value } {
    const obj: { [k: string]: Value } = {};
    while (this.peek()?.v !== close || this.peek()?.t !== 'punct') {
      const key = this.next();
      if (key.t !== 'str' && key.t !== 'ident') throw new Error(`expected a key, found ${key.v}`);
      if (this.peek()?.v === '{') { this.next(); obj[key.v] = this.body('}'); }
      else {
        const sep = this.next();
        if (sep.v !== '=' && sep.v !== ':') throw new Error(`expected = after ${key.v}`);
        obj[key.v] = this.value();
      }
      if (this.peek()?.v === ',') this.next();
    }
    this.next();
    return obj;
  }
}

const CAPABILITY_ORDER = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny', 'subscribe', 'recover'];

function canonicalValue(v: Value): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalValue).sort().join(', ')}]`;
  return `{ ${Object.keys(v).sort().map((k) => `${JSON.stringify(k)} = ${canonicalValue(v[k]!)}`).join(', ')} }`;
}

function sortCapabilities(caps: string[]): string[] {
  const uniq = [...new Set(caps.map((c) => c.toLowerCase()))];
  const rank = (c: string): number => (CAPABILITY_ORDER.includes(c) ? CAPABILITY_ORDER.indexOf(c) : CAPABILITY_ORDER.length);
  return uniq.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function toRule(path: string, body: { [k: string]: Value }): PolicyRule {
  const caps = body.capabilities;
  const rule: PolicyRule = { path, capabilities: sortCapabilities(Array.isArray(caps) ? caps.map(String) : typeof caps === 'string' ? [caps] : []) };
  const extra: Record<string, string> = {};
  for (const k of Object.keys(body).sort()) if (k !== 'capabilities') extra[k] = canonicalValue(body[k]!);
  if (Object.keys(extra).length) rule.extra = extra;
  return rule;
}

/** Parse an ACL policy in HCL or JSON; throws on text it does not understand. */
export function parsePolicy(text: string): PolicyRule[] {
  const trimmed = text.trim();
  let doc: { [k: string]: Value };
  if (trimmed.startsWith('{')) {
    doc = JSON.parse(trimmed) as { [k: string]: Value };
  } else {
    const p = new Parser(tokenize(text));
    doc = {};
    const paths: Value[] = [];
    while (!p.done()) {
      const kw = p.next();
      if (kw.t !== 'ident' || kw.v !== 'path') throw new Error(`expected path, found ${kw.v}`);
      const name = p.next();
      if (name.t !== 'str') throw new Error('expected a quoted path');
      p.expect('{');
      paths.push({ [name.v]: p.body('}') });
    }
    doc.path = paths;
  }
  const rules: PolicyRule[] = [];
  const blocks = Array.isArray(doc.path) ? doc.path : doc.path ? [doc.path] : [];
  for (const b of blocks) {
    if (typeof b !== 'object' || Array.isArray(b)) throw new Error('malformed path block');
    for (const [path, body] of Object.entries(b)) {
      if (typeof body !== 'object' || Array.isArray(body)) throw new Error(`malformed block for ${path}`);
      rules.push(toRule(path, body));
    }
  }
  return rules;
}

/**
 * Canonical text of a policy: path blocks sorted by path, capabilities in
 * Vault's order without duplicates, no comments. Text that does not parse is
 * compared with comments and blank space squeezed out.
 */
export function normalizePolicy(text: string): string {
  try {
    const rules = parsePolicy(text).sort((a, b) => a.path.localeCompare(b.path));
    return renderRules(rules);
  } catch {
    return text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean).join('\n') + '\n';
  }
}

export function samePolicy(live: string, wanted: string): boolean {
  return normalizePolicy(live) === normalizePolicy(wanted);
}
