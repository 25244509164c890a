// Everything README and docs point to must be in the repository: users do not
// have the folders beside it. A relative link that leaves the repository, or
// points at nothing, fails here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** Relative link targets in markdown text: [text](target) and <a href="target">. */
export function relativeLinks(md: string): string[] {
  const out: string[] = [];
  const noCode = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  for (const m of noCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|href="([^"]+)"/g)) {
    const t = (m[1] ?? m[2])!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(t) || t.startsWith('#')) continue; // http:, mailto:, anchors
    out.push(t.split('#')[0]!);
  }
  return out.filter(Boolean);
}

export function badLinks(file: string, repoRoot: string): string[] {
  const bad: string[] = [];
  for (const t of relativeLinks(fs.readFileSync(file, 'utf8'))) {
    const abs = path.resolve(path.dirname(file), decodeURIComponent(t));
    const rel = path.relative(repoRoot, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) bad.push(`${path.relative(repoRoot, file)}: ${t} leaves the repository`);
    else if (!fs.existsSync(abs)) bad.push(`${path.relative(repoRoot, file)}: ${t} points at nothing`);
  }
  return bad;
}

const docs = ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'bench/RESULTS.md'];

test('the checker finds a link outside the repository and a dangling one', () => {
  const dir = fs.mkdtempSync(path.join(root, '.links-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.md'), 'see [spec](../../shared/reference/SPEC.md), [x](missing.md), [ok](a.md), [web](https://example.com) and `[code](../../no)`\n');
    const bad = badLinks(path.join(dir, 'a.md'), root);
    assert.is(bad.length, 2, bad.join('\n'));
    assert.match(bad[0]!, /leaves the repository/);
    assert.match(bad[1]!, /missing\.md points at nothing/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('README and docs/ link only to files in the repository', () => {
  const bad = docs.filter((d) => fs.existsSync(path.join(root, d))).flatMap((d) => badLinks(path.join(root, d), root));
  assert.equal(bad, []);
});

test('no document sends users to ../shared (they do not have it)', () => {
  for (const d of docs.filter((f) => fs.existsSync(path.join(root, f)))) assert.not.match(fs.readFileSync(path.join(root, d), 'utf8'), /\.\.\/shared\//, d);
});

test.run();
