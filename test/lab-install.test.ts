// The lab's install recipe: its cache key is a hash of everything the build reads,
// so a changed recipe rebuilds and an unchanged one does not.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, appendFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vaultRecipe } from '../lab/lib/install-vault.js';
import { motoRecipe } from '../lab/lib/install-moto.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function copyRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'recipe-'));
  mkdirSync(join(r, 'lab'));
  cpSync(join(root, 'lab', 'vault-build'), join(r, 'lab', 'vault-build'), { recursive: true });
  cpSync(join(root, 'lab', 'vault-lite'), join(r, 'lab', 'vault-lite'), { recursive: true });
  rmSync(join(r, 'lab', 'vault-build', 'sdk'), { recursive: true, force: true });
  return r;
}

test('the same recipe gives the same key, in another checkout too', () => {
  const r = copyRoot();
  try {
    assert.is(vaultRecipe(r).key, vaultRecipe(root).key);
    assert.is(motoRecipe(r).key, motoRecipe(root).key);
    assert.match(vaultRecipe(r).file, /^vault-1\.21\.4-[0-9a-f]{16}$/);
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});

for (const f of ['lab/vault-build/go.mod', 'lab/vault-build/go.sum', 'lab/vault-build/sdk-v0.21.0.patch', 'lab/vault-build/tools.go', 'lab/vault-lite/main.go']) {
  test(`a change to ${f} changes the Vault key (a rebuild), not moto's`, () => {
    const r = copyRoot();
    try {
      const before = vaultRecipe(r).key;
      appendFileSync(join(r, f), '\n// changed\n');
      assert.is.not(vaultRecipe(r).key, before);
      assert.is(motoRecipe(r).key, motoRecipe(root).key);
    } finally {
      rmSync(r, { recursive: true, force: true });
    }
  });
}

test('a patch file added to lab/vault-build is part of the recipe', () => {
  const r = copyRoot();
  try {
    const before = vaultRecipe(r).key;
    appendFileSync(join(r, 'lab', 'vault-build', 'extra.patch'), 'diff\n');
    assert.is.not(vaultRecipe(r).key, before);
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});

test.run();
