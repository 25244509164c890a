import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig, edgeVersionProblem, partitionOf, loadConfig, VARIABLES } from '../lib/config.js';
import { ConfigError, ExitCode } from '../lib/errors.js';
import { MASK, redact } from '../lib/redact.js';

const base = { AWS_REGION: 'us-east-1' };

test('defaults follow docs/GUIDE.md', () => {
  const { config, problems } = parseConfig(base);
  assert.equal(problems, []);
  assert.is(config.namespace, 'gloo-system');
  assert.is(config.clusterName, 'gloo-ee-vault-integration');
  assert.is(config.roleName, 'dev-role-iam-gloo-ee-vault-integration');
  assert.is(config.policyName, 'gloo-vault-auth-policy-gloo-ee-vault-integration');
  assert.is(config.iamServerIdHeader, 'vault.gloo.example.com');
  assert.is(config.vaultAddressForGloo, 'http://vault-internal.vault:8200');
  assert.is(config.edgeVersion, 'v1.16.x');
  assert.is(config.kvMount, 'dev');
  assert.is(config.rootKey, 'gloo');
  assert.equal(config.serviceAccounts, ['gloo', 'discovery']);
  assert.is(config.vaultServerIdentity, 'role');
});

test('missing AWS_REGION is one clear line', () => {
  const { problems } = parseConfig({});
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /AWS_REGION is not set: export AWS_REGION=/);
});

test('a region like us-east-x is rejected', () => {
  const { problems } = parseConfig({ AWS_REGION: 'us-east-x' });
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /"us-east-x" is not an AWS region/);
});

test('a 70-character role name is rejected with the limit', () => {
  const name = 'r'.repeat(70);
  const { problems } = parseConfig({ ...base, VAULT_AUTH_ROLE_NAME: name });
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /is 70 characters; IAM role names are at most 64/);
});

test('a long cluster name makes the derived role names too long, and says to shorten it', () => {
  const { problems } = parseConfig({ ...base, CLUSTER_NAME: 'c'.repeat(60) });
  assert.ok(problems.some((p) => /VAULT_AUTH_ROLE_NAME .*at most 64.*shorten CLUSTER_NAME/.test(p)));
});

test('a namespace with capitals is rejected (DNS-1123)', () => {
  const { problems } = parseConfig({ ...base, NAMESPACE: 'Gloo-System' });
  assert.is(problems.length, 1);
  assert.match(problems[0]!, /NAMESPACE "Gloo-System" is not a valid Kubernetes namespace/);
});

test('every problem is reported at once', () => {
  const { problems } = parseConfig({ AWS_REGION: 'mars-1', NAMESPACE: 'A_B', VAULT_ADDR: 'not a url', EDGE_VERSION: 'v1.14.0', GLOO_EDITION: 'pro' });
  assert.is(problems.length, 5);
});

test('VAULT_ADDRESS defaults to the Vault service in VAULT_K8S_NAMESPACE', () => {
  assert.is(parseConfig({ ...base, VAULT_K8S_NAMESPACE: 'secrets' }).config.vaultAddressForGloo, 'http://vault-internal.secrets:8200');
  assert.is(parseConfig({ ...base, VAULT_K8S_NAMESPACE: 'secrets', VAULT_ADDRESS: 'http://v:8200' }).config.vaultAddressForGloo, 'http://v:8200');
  assert.is(VARIABLES.find((v) => v.name === 'VAULT_ADDRESS')!.default, 'http://vault-internal.${VAULT_K8S_NAMESPACE}:8200');
});

test('GLOO_LICENSE_KEY: required for enterprise (one sentence), a secret, optional for oss', () => {
  const { problems } = parseConfig({ ...base, GLOO_EDITION: 'enterprise' });
  assert.equal(problems, ['GLOO_LICENSE_KEY is not set but GLOO_EDITION=enterprise needs it, as the gloo-ee chart does not install without license_key: set GLOO_LICENSE_KEY to your Gloo Edge Enterprise license key, or GLOO_EDITION to oss']);
  try {
    loadConfig({ ...base, GLOO_EDITION: 'enterprise' });
    assert.unreachable();
  } catch (err) {
    assert.is((err as ConfigError).exitCode, ExitCode.config);
  }
  const ok = parseConfig({ ...base, GLOO_EDITION: 'enterprise', GLOO_LICENSE_KEY: 'lic-key-0123456789' });
  assert.equal(ok.problems, []);
  assert.is(ok.config.licenseKey, 'lic-key-0123456789');
  assert.is(redact('values: license_key: lic-key-0123456789 and GLOO_LICENSE_KEY=lic-key-0123456789'), `values: license_key: ${MASK} and GLOO_LICENSE_KEY=${MASK}`);
  assert.equal(parseConfig(base).problems, []);
});

test('loadConfig throws ConfigError with exit code 2', () => {
  try {
    loadConfig({ AWS_REGION: 'us-east-x' });
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).exitCode, ExitCode.config);
    assert.is(ExitCode.config, 2);
  }
});

test('OIDC_ISSUER must be https without a port', () => {
  assert.match(parseConfig({ ...base, OIDC_ISSUER: 'http://issuer.example.com' }).problems[0]!, /must be an https:\/\/ URL/);
  assert.match(parseConfig({ ...base, OIDC_ISSUER: 'https://issuer.example.com:8443' }).problems[0]!, /has a port/);
  assert.equal(parseConfig({ ...base, OIDC_ISSUER: 'https://issuer.example.com/id/X' }).problems, []);
});

test('EDGE_VERSION: at least the first release with Vault token renewal (1.15.19, 1.16.0-rc3, 1.17.0-beta2)', () => {
  const ok = ['v1.16.x', 'v1.16.*', 'v1.16.0', '1.16.0', 'v1.16.0-rc3', 'v1.16.3', 'v1.15.19', 'v1.15.20', 'v1.15.x', 'v1.17.0-beta2', 'v1.17.0-rc1', 'v1.17.x', 'v1.17.2', 'v1.18.0-beta1', 'v2.0.0'];
  for (const v of ok) assert.is(edgeVersionProblem(v), undefined, v);
  const bad = ['v1.15.18', 'v1.15.3', 'v1.15.19-beta1', 'v1.16.0-rc2', 'v1.16.0-rc1', 'v1.16.0-beta7', 'v1.16.0-beta28', 'v1.17.0-beta1', 'v1.14.x', 'v0.99.0', 'v1.16.0-foo'];
  for (const v of bad) assert.match(edgeVersionProblem(v) ?? '', /has no Vault token renewal, so Gloo would lose Vault access when its token's 24h max TTL ends: set EDGE_VERSION to v1\.16\.x/, v);
  assert.is(edgeVersionProblem('v1.15.3')!.split('. ').length, 1, 'one sentence');
  assert.match(edgeVersionProblem('latest') ?? '', /is not a version/);
});

test('partition follows the region', () => {
  assert.is(partitionOf('us-east-1'), 'aws');
  assert.is(partitionOf('cn-north-1'), 'aws-cn');
  assert.is(partitionOf('us-gov-west-1'), 'aws-us-gov');
  assert.is(parseConfig({ AWS_REGION: 'cn-northwest-1' }).config.partition, 'aws-cn');
});

test('every variable is documented with a default column', () => {
  const names = VARIABLES.map((v) => v.name);
  for (const n of ['AWS_REGION', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', 'VAULT_ADDR', 'VAULT_TOKEN', 'KUBECONFIG', 'CLUSTER_NAME', 'NAMESPACE']) assert.ok(names.includes(n), n);
});

test.run();
