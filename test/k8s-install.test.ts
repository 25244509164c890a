// The cache key of the lab's Kubernetes tools (lab/lib/k8s-install.ts), without building.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { k8sRecipeHash, k8sCacheDir, LDFLAGS, TOOLS, K8S_VERSION } from '../lab/lib/k8s-install.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

test('the hash is stable and changes with anything a build reads', () => {
  const copy = mkdtempSync(join(tmpdir(), 'k8s-hash-'));
  try {
    cpSync(join(root, 'lab', 'k8s-build'), join(copy, 'lab', 'k8s-build'), { recursive: true });
    const h = k8sRecipeHash(copy);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.is(k8sRecipeHash(copy), h);
    assert.is(k8sRecipeHash(root), h, 'same files, same key');
    for (const m of ['kubernetes', 'etcd', 'kwok', 'helm']) {
      const c2 = mkdtempSync(join(tmpdir(), 'k8s-hash-'));
      cpSync(join(root, 'lab', 'k8s-build'), join(c2, 'lab', 'k8s-build'), { recursive: true });
      appendFileSync(join(c2, 'lab', 'k8s-build', m, 'go.sum'), 'example.com/x v0.0.1 h1:x=\n');
      assert.is.not(k8sRecipeHash(c2), h, `${m}/go.sum is part of the key`);
      rmSync(c2, { recursive: true, force: true });
    }
    assert.is(k8sCacheDir(copy, '/c'), `/c/k8s-${h.slice(0, 16)}`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test('kube binaries are stamped with the pinned version; every tool has a version check', () => {
  assert.ok(LDFLAGS.kubernetes.includes(`-X k8s.io/component-base/version.gitVersion=${K8S_VERSION}`));
  assert.ok(LDFLAGS.kubernetes.includes('-X k8s.io/component-base/version.gitMinor=34'));
  assert.equal(TOOLS.map((t) => t.bin).sort(), ['etcd', 'helm', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok']);
  assert.ok(TOOLS.find((t) => t.bin === 'kube-apiserver')!.version.expect.test('Kubernetes v1.34.2'));
  assert.not.ok(TOOLS.find((t) => t.bin === 'kube-apiserver')!.version.expect.test('Kubernetes v0.0.0-master'));
  assert.ok(TOOLS.find((t) => t.bin === 'kubectl')!.version.expect.test('Client Version: v1.34.2\nKustomize Version: v5.7.1'));
  assert.not.ok(TOOLS.find((t) => t.bin === 'kubectl')!.version.expect.test('Client Version: v1.32.4-dispatcher'));
});

test.run();
