// Docker mode's kind cluster cannot be created on this kind of machine (its node image
// cannot be had): keep lab/kind.yaml valid and its important fields right, so a machine
// with Docker and internet gets a working cluster. Every image is pinned in one place,
// lab/lib/settings.ts; kind.yaml carries placeholders that lab/lib/kind.ts fills in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UPSTREAM_IMAGES, MOTO_VERSION, VAULT_VERSION } from '../lab/lib/settings.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const read = (p: string) => YAML.parse(fs.readFileSync(path.join(root, p), 'utf8'));

test('kind.yaml: the API server issues service-account tokens for IRSA emulation; issuer and node image are placeholders', () => {
  const kind = read('lab/kind.yaml');
  assert.is(kind.kind, 'Cluster');
  assert.is(kind.apiVersion, 'kind.x-k8s.io/v1alpha4');
  const cp = kind.nodes.find((n: { role: string }) => n.role === 'control-plane');
  assert.ok(cp, 'a control-plane node');
  assert.is(cp.image, 'KIND_NODE_IMAGE', 'the pinned image comes from settings.ts');
  const patch = YAML.parse(cp.kubeadmConfigPatches[0]);
  assert.is(patch.kind, 'ClusterConfiguration');
  const args = patch.apiServer.extraArgs;
  assert.is(args['service-account-issuer'], 'ISSUER_URL');
  assert.match(args['service-account-jwks-uri'], /^https:\/\//);
  assert.ok(String(args['api-audiences']).split(',').includes('sts.amazonaws.com'), 'sts audience accepted');
});

test('Docker mode\'s upstream images are pinned (no latest) and match the process lab\'s versions', () => {
  assert.is(UPSTREAM_IMAGES.moto, `motoserver/moto:${MOTO_VERSION}`);
  assert.is(UPSTREAM_IMAGES.vault, `hashicorp/vault:${VAULT_VERSION}`);
  assert.match(UPSTREAM_IMAGES.node, /^node:20\.\d+\.\d+-alpine$/);
  assert.match(UPSTREAM_IMAGES.kindNode, /^kindest\/node:v\d+\.\d+\.\d+$/);
  // No other file pins an image of its own.
  for (const f of ['lab/kind.yaml', 'Makefile', '.ci/run']) assert.not.match(fs.readFileSync(path.join(root, f), 'utf8'), /(motoserver\/moto|hashicorp\/vault|kindest\/node):/, f);
});

test.run();
