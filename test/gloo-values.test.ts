// Step 10's values: parsed (not string-compared) against GUIDE §10, for open
// source and Enterprise; and the helm-template check on rendered manifests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import YAML from 'yaml';
import { parseConfig } from '../lib/config.js';
import { checkRendered, glooValues, glooValuesInput, parseManifests, parseValues, renderValues } from '../lib/gloo-values.js';
import { valuesText } from '../runbook/10-gloo-values.js';
import { installCommand } from '../runbook/11-install-gloo.js';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/dev-role-iam-gloo-ee-vault-integration';

function cfg(extra: Record<string, string> = {}) {
  const { config, problems } = parseConfig({ AWS_REGION: 'us-east-1', ...extra });
  assert.equal(problems, []);
  return config;
}

// GUIDE §10, with the default names filled in.
const GUIDE_OSS = {
  settings: {
    secretOptions: {
      sources: [
        {
          vault: {
            address: 'http://vault-internal.vault:8200',
            aws: { iamServerIdHeader: 'vault.gloo.example.com', mountPath: 'aws', region: 'us-east-1', vaultRole: 'dev-role-iam-gloo-ee-vault-integration' },
            pathPrefix: 'dev',
          },
        },
        { kubernetes: {} },
      ],
    },
  },
  gloo: { serviceAccount: { extraAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } },
  discovery: { serviceAccount: { extraAnnotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } },
};

test('open source values file parses to exactly the structure of docs/GUIDE.md §10', () => {
  const text = valuesText(cfg(), ROLE_ARN);
  assert.equal(parseValues(text), GUIDE_OSS);
  assert.ok(text.startsWith('# '), 'the file says where it comes from');
});

test('Enterprise nests the same values under gloo: and adds the chart\'s top-level license_key', () => {
  const text = valuesText(cfg({ GLOO_EDITION: 'enterprise', GLOO_LICENSE_KEY: 'lic-abc123-secret' }), ROLE_ARN);
  assert.equal(parseValues(text), { license_key: 'lic-abc123-secret', gloo: GUIDE_OSS });
});

test('open source values never carry a license key, even when one is set', () => {
  assert.equal(parseValues(valuesText(cfg({ GLOO_LICENSE_KEY: 'lic-abc123-secret' }), ROLE_ARN)), GUIDE_OSS);
});

test('VAULT_ADDRESS follows VAULT_K8S_NAMESPACE into the values unless set', () => {
  const v = (c: ReturnType<typeof cfg>) => (parseValues(valuesText(c, ROLE_ARN)) as typeof GUIDE_OSS).settings.secretOptions.sources[0]!.vault!.address;
  assert.is(v(cfg({ VAULT_K8S_NAMESPACE: 'secrets' })), 'http://vault-internal.secrets:8200');
  assert.is(v(cfg({ VAULT_K8S_NAMESPACE: 'secrets', VAULT_ADDRESS: 'https://vault.example.com' })), 'https://vault.example.com');
});

test('vaultRole is set explicitly, lower-cased as Vault stores it; rootKey only when not the default', () => {
  const v = glooValues(glooValuesInput(cfg({ VAULT_AUTH_ROLE_NAME: 'Dev-Role', GLOO_ROOT_KEY: 'edge' }), ROLE_ARN)) as typeof GUIDE_OSS;
  const vault = v.settings.secretOptions.sources[0]!.vault as Record<string, unknown> & { aws: { vaultRole: string } };
  assert.is(vault.aws.vaultRole, 'dev-role');
  assert.is(vault.rootKey, 'edge');
  assert.not.ok('rootKey' in (GUIDE_OSS.settings.secretOptions.sources[0]!.vault as object));
});

test('no keys for static credentials are written (keyless IRSA)', () => {
  const text = valuesText(cfg(), ROLE_ARN);
  for (const k of ['accessKeyId', 'secretAccessKey', 'sessionToken', 'accessToken']) assert.not.ok(text.includes(k), k);
});

test('custom names flow into the values', () => {
  const c = cfg({ VAULT_AUTH_MOUNT: 'aws-t', VAULT_KV_MOUNT: 'kv-t', IAM_SERVER_ID_HEADER_VALUE: 'x.example', VAULT_ADDRESS: 'https://vault.example:8200', AWS_REGION: 'eu-west-2' });
  const v = parseValues(valuesText(c, ROLE_ARN)) as typeof GUIDE_OSS;
  assert.equal(v.settings.secretOptions.sources[0]!.vault, {
    address: 'https://vault.example:8200',
    aws: { iamServerIdHeader: 'x.example', mountPath: 'aws-t', region: 'eu-west-2', vaultRole: 'dev-role-iam-gloo-ee-vault-integration' },
    pathPrefix: 'kv-t',
  });
});

function rendered(values: typeof GUIDE_OSS, annotate = true): string {
  const vault = values.settings.secretOptions.sources[0]!.vault;
  const docs = [
    { apiVersion: 'gloo.solo.io/v1', kind: 'Settings', metadata: { name: 'default', namespace: 'gloo-system' }, spec: { secretOptions: { sources: [{ vault }, { kubernetes: {} }] } } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gloo', namespace: 'gloo-system', ...(annotate ? { annotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } : {}) } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'discovery', namespace: 'gloo-system', annotations: { 'eks.amazonaws.com/role-arn': ROLE_ARN } } },
  ];
  return docs.map((d) => `---\n# Source: gloo/templates/x.yaml\n${YAML.stringify(d)}`).join('');
}

test('checkRendered: accepts a chart rendering with the vault source and both annotations', () => {
  const r = checkRendered(parseManifests(rendered(GUIDE_OSS)), glooValuesInput(cfg(), ROLE_ARN));
  assert.equal(r.problems, []);
  assert.is(r.proven.length, 3);
});

test('checkRendered: names a missing annotation and a wrong vault field', () => {
  const bad = structuredClone(GUIDE_OSS);
  (bad.settings.secretOptions.sources[0]!.vault as { aws: { vaultRole: string } }).aws.vaultRole = 'other';
  const r = checkRendered(parseManifests(rendered(bad, false)), glooValuesInput(cfg(), ROLE_ARN));
  assert.ok(r.problems.some((p) => p.includes('aws.vaultRole is "other"')), r.problems.join('\n'));
  assert.ok(r.problems.some((p) => p.includes('ServiceAccount gloo has eks.amazonaws.com/role-arn=(none)')), r.problems.join('\n'));
});

test('renderValues is YAML the yaml library reads back', () => {
  assert.equal(YAML.parse(renderValues({ a: { b: [1, { c: {} }] } }, 'x')), { a: { b: [1, { c: {} }] } });
});

test('step 11 prints the install command of the issue', () => {
  assert.is(
    installCommand(cfg(), '/tmp/v.yaml').replace(/ \\\n\s+/g, ' '),
    'helm upgrade --install gloo gloo/gloo -n gloo-system --create-namespace --version v1.16.x --values /tmp/v.yaml',
  );
});

test.run();
