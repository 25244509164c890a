// Docker mode cannot run on this machine or in CI: keep its files valid and
// their important fields right, so a machine with Docker gets a working lab.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const read = (p: string) => YAML.parse(fs.readFileSync(path.join(root, p), 'utf8'));

test('kind.yaml: the API server issues service-account tokens for IRSA emulation', () => {
  const kind = read('lab/kind.yaml');
  assert.is(kind.kind, 'Cluster');
  assert.is(kind.apiVersion, 'kind.x-k8s.io/v1alpha4');
  const cp = kind.nodes.find((n: { role: string }) => n.role === 'control-plane');
  assert.ok(cp, 'a control-plane node');
  assert.match(cp.image, /^kindest\/node:v\d+\.\d+\.\d+$/, 'pinned node image');
  const patch = YAML.parse(cp.kubeadmConfigPatches[0]);
  assert.is(patch.kind, 'ClusterConfiguration');
  const args = patch.apiServer.extraArgs;
  assert.ok(args['service-account-issuer'], 'issuer set');
  assert.match(args['service-account-jwks-uri'], /^https:\/\//);
  assert.ok(String(args['api-audiences']).split(',').includes('sts.amazonaws.com'), 'sts audience accepted');
});

test('compose.yaml: pinned moto and Vault on the process-mode ports, root token from the environment', () => {
  const c = read('lab/docker/compose.yaml');
  assert.is(c.services.moto.image, 'motoserver/moto:5.2.5');
  assert.ok(c.services.moto.ports.some((p: string) => p.startsWith('127.0.0.1:4566:')));
  assert.match(c.services.vault.image, /^hashicorp\/vault:1\.21\.4$/);
  assert.ok(c.services.vault.ports.some((p: string) => p.startsWith('127.0.0.1:8200:')));
  assert.match(c.services.vault.environment.VAULT_DEV_ROOT_TOKEN_ID, /^\$\{LAB_VAULT_ROOT_TOKEN/, 'no token literal');
  for (const s of Object.values(c.services) as { healthcheck?: unknown }[]) assert.ok(s.healthcheck, 'every service has a health check');
});

test.run();
