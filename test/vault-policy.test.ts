import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { glooPolicyHcl, glooPolicyRules, normalizePolicy, samePolicy } from '../lib/vault-policy.js';
import { clientConfig, clientConfigCommand, liveRole, roleCommand, roleWanted, stsEndpoint, authEnableCommand, kvEnableCommand, vaultHelmSet, vaultHelmValues } from '../lib/vault-documents.js';
import { vaultServerTrust } from '../lib/iam-documents.js';
import { installCommands, planVaultRelease } from '../runbook/04-install-vault.js';
import { policyCommands } from '../runbook/07-vault-policy.js';
import { fieldDiff } from '../lib/diff.js';
import { parseConfig } from '../lib/config.js';

const config = parseConfig({ AWS_REGION: 'us-east-1' }).config;

test('the policy has the rules of docs/GUIDE.md §07 for the KV mount', () => {
  assert.equal(glooPolicyRules('dev'), [
    { path: 'dev/*', capabilities: ['create', 'read', 'update', 'delete', 'list'] },
    { path: 'dev/', capabilities: ['list'] },
    { path: 'sys/mounts', capabilities: ['read', 'list'] },
  ]);
  assert.ok(glooPolicyHcl('dev').includes('capabilities = ["create", "read", "update", "delete", "list"]'));
  assert.ok(glooPolicyHcl('kv2').includes('path "kv2/*" {'));
});

test('normalising ignores comments, layout, block order and capability order', () => {
  const reordered = `
    // UI
    path "sys/mounts" { capabilities = ["list","read"] }
    /* the mount */ path "dev/" {
        capabilities = [ "list" ]
    }
    # rw
    path "dev/*" {
      capabilities = ["list", "delete", "update", "read", "create", "read"]
    }`;
  assert.ok(samePolicy(reordered, glooPolicyHcl('dev')));
  assert.is(normalizePolicy(reordered), normalizePolicy(glooPolicyHcl('dev')));
});

test('the JSON form of the same policy is the same policy', () => {
  const json = JSON.stringify({ path: { 'dev/*': { capabilities: ['create', 'read', 'update', 'delete', 'list'] }, 'dev/': { capabilities: ['list'] }, 'sys/mounts': { capabilities: ['read', 'list'] } } });
  assert.ok(samePolicy(json, glooPolicyHcl('dev')));
});

test('a changed capability, path or extra attribute is drift', () => {
  const wanted = glooPolicyHcl('dev');
  assert.not.ok(samePolicy(wanted.replace('"delete", ', ''), wanted));
  assert.not.ok(samePolicy(wanted.replace('sys/mounts', 'sys/mounts/*'), wanted));
  assert.not.ok(samePolicy(wanted.replace('capabilities = ["list"]', 'capabilities = ["list"]\n  allowed_parameters = { "x" = [] }'), wanted));
  assert.not.ok(samePolicy(wanted + '\npath "secret/*" { capabilities = ["read"] }\n', wanted));
});

test('text that is not a whole policy still normalises and differs', () => {
  const broken = 'path "dev/*" {\n  capabilities = ["read"]\n'; // the guide's lost braces
  assert.not.throws(() => normalizePolicy(broken));
  assert.not.ok(samePolicy(broken, glooPolicyHcl('dev')));
});

test('a comment sign inside a quoted path is part of the path, not a comment', () => {
  const wanted = 'path "dev/#x" { capabilities = ["read"] }';
  assert.not.ok(samePolicy(wanted, 'path "dev/" { capabilities = ["read"] }'));
  assert.ok(samePolicy(wanted, '# c\npath "dev/#x" {\n  capabilities = ["read",]\n}'));
});

test('client config: regional STS on AWS, the emulator (and iam_endpoint) in the lab', () => {
  assert.equal(clientConfig(config), { iam_server_id_header_value: 'vault.gloo.example.com', sts_endpoint: 'https://sts.us-east-1.amazonaws.com', sts_region: 'us-east-1', iam_endpoint: '' });
  const lab = parseConfig({ AWS_REGION: 'eu-west-2', AWS_ENDPOINT_URL: 'http://127.0.0.1:4566/' }).config;
  assert.equal(clientConfig(lab), { iam_server_id_header_value: 'vault.gloo.example.com', sts_endpoint: 'http://127.0.0.1:4566', sts_region: 'eu-west-2', iam_endpoint: 'http://127.0.0.1:4566' });
  const vaultSide = parseConfig({ AWS_REGION: 'eu-west-2', AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', VAULT_AWS_ENDPOINT_URL: 'http://moto:5000' }).config;
  assert.is(clientConfig(vaultSide).sts_endpoint, 'http://moto:5000');
  assert.is(stsEndpoint(parseConfig({ AWS_REGION: 'cn-north-1' }).config), 'https://sts.cn-north-1.amazonaws.com.cn');
});

test('manual commands follow the guide (kubectl exec -n vault vault-0 -- vault …)', () => {
  assert.is(authEnableCommand(config), 'kubectl exec -n vault vault-0 -- vault auth enable aws');
  assert.is(authEnableCommand({ ...config, authMount: 'aws-t' }), 'kubectl exec -n vault vault-0 -- vault auth enable -path=aws-t aws');
  assert.is(kvEnableCommand(config), 'kubectl exec -n vault vault-0 -- vault secrets enable -path=dev -version=2 kv');
  assert.is(clientConfigCommand(config, clientConfig(config)),
    'kubectl exec -n vault vault-0 -- vault write auth/aws/config/client \\\n    iam_server_id_header_value=vault.gloo.example.com \\\n    sts_endpoint=https://sts.us-east-1.amazonaws.com \\\n    sts_region=us-east-1');
  assert.ok(clientConfigCommand(config, clientConfig(config), ['iam_endpoint']).includes("iam_endpoint="));
  const role = roleCommand(config, '${VAULT_AUTH_ROLE_ARN}');
  assert.ok(role.startsWith('kubectl exec -n vault vault-0 -- vault write auth/aws/role/dev-role-iam-gloo-ee-vault-integration \\'));
  assert.ok(role.includes('"bound_iam_principal_arn=${VAULT_AUTH_ROLE_ARN}"'));
  assert.ok(role.includes('token_policies=dev') && role.includes('token_max_ttl=24h') && role.includes('auth_type=iam'));
  const policy = policyCommands(config);
  assert.ok(policy[0]!.startsWith('cat > policy.hcl <<EOF\n'));
  assert.is(policy[1], 'kubectl exec -i -n vault vault-0 -- vault policy write dev - < policy.hcl');
});

test('install commands: dev mode, no injector, the Vault server role annotation, a loud warning', () => {
  const c = installCommands(config, '${VAULT_SERVER_ROLE_ARN}');
  assert.match(c[0]!, /^# WARNING: Vault DEV MODE .*in memory.*root token.*lab only/);
  const helm = c.find((l) => l.startsWith('helm upgrade'))!;
  assert.ok(helm.includes('--install vault hashicorp/vault'));
  assert.ok(helm.includes('-n vault --create-namespace'));
  assert.ok(helm.includes('--set server.dev.enabled=true') && helm.includes('--set injector.enabled=false'));
  assert.ok(helm.includes('--set "server.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=${VAULT_SERVER_ROLE_ARN}"'));
  assert.not.ok(installCommands(config, undefined).some((l) => l.includes('role-arn')));
  assert.ok(c.includes('kubectl exec -n vault vault-0 -- vault status'));
  // vault-0 may not exist yet when helm returns: the wait first waits for it to exist.
  const wait = c.find((l) => l.includes('kubectl wait'))!;
  assert.match(wait, /^for i in \$\(seq 60\); do kubectl get pod\/vault-0 -n vault >\/dev\/null 2>&1 && break; sleep 2; done\nkubectl wait --for=condition=Ready pod\/vault-0 -n vault --timeout=300s$/);
  assert.ok(c.indexOf(helm) < c.indexOf(wait));
});

test('VAULT_SERVICE_ACCOUNT goes into the Vault chart values as server.serviceAccount.name', () => {
  const { config: c } = parseConfig({ AWS_REGION: 'us-east-1', VAULT_SERVICE_ACCOUNT: 'vault-irsa' });
  assert.is(vaultHelmSet('arn:r', c.vaultServiceAccount)['server.serviceAccount.name'], 'vault-irsa');
  assert.equal(vaultHelmValues('arn:r', 'vault-irsa'), {
    server: { dev: { enabled: true }, serviceAccount: { name: 'vault-irsa', annotations: { 'eks.amazonaws.com/role-arn': 'arn:r' } } },
    injector: { enabled: false },
  });
  assert.equal(vaultHelmValues(undefined, 'vault').server, { dev: { enabled: true }, serviceAccount: { name: 'vault' } });
  const helm = installCommands(c, undefined).find((l) => l.startsWith('helm upgrade'))!;
  assert.ok(helm.includes('--set server.serviceAccount.name=vault-irsa'), helm);
  // The trust policy names the same service account.
  assert.match(JSON.stringify(vaultServerTrust(c, 'arn:aws:iam::123456789012:oidc-provider/x', 'x')), /system:serviceaccount:vault:vault-irsa/);
});

test('a live role read back (lists, seconds) equals the wanted one', () => {
  const arn = 'arn:aws:iam::123456789012:role/dev-role-iam-x';
  const live = liveRole({ auth_type: 'iam', bound_iam_principal_arn: [arn], token_policies: ['dev'], policies: ['dev'], token_max_ttl: 86400, bound_iam_principal_id: ['AROAX'] });
  assert.is(fieldDiff(live!, roleWanted(config, arn)), '');
  const rebound = liveRole({ auth_type: 'iam', bound_iam_principal_arn: ['arn:aws:iam::123456789012:role/other'], token_policies: ['dev'], token_max_ttl: 86400 });
  assert.match(fieldDiff(rebound!, roleWanted(config, arn)), /bound_iam_principal_arn: \["arn:aws:iam::123456789012:role\/other"\] -> \["arn:aws:iam::123456789012:role\/dev-role-iam-x"\]/);
});

test('step 04 on an existing release: dev mode turned on for a non-dev Vault is destructive; user values kept', () => {
  const p = planVaultRelease({ server: { dev: { enabled: false }, ha: { enabled: true } } }, 'arn:r', 'vault');
  assert.ok(p.destructive);
  assert.ok(p.diff.some((l) => l.startsWith('DESTRUCTIVE server.dev.enabled')));
  assert.is((p.merged as { server: { ha: { enabled: boolean } } }).server.ha.enabled, true);
  assert.ok(p.restart, 'a role added to a release without one needs vault-0 deleted');
  assert.ok(p.diff.some((l) => l.startsWith('DESTRUCTIVE vault-0 is deleted')));
});

test('step 04 on a dev-mode release: a new role restarts vault-0 without --yes; the same values change nothing', () => {
  const live = vaultHelmValues('arn:old', 'vault');
  const p = planVaultRelease(live, 'arn:new', 'vault');
  assert.not.ok(p.destructive);
  assert.ok(p.restart);
  assert.ok(p.diff.some((l) => l.startsWith('vault-0 is deleted')));
  const same = planVaultRelease(live, 'arn:old', 'vault');
  assert.ok(same.none);
  assert.not.ok(same.restart);
  assert.equal(same.diff, []);
});

test('step 04 on a release with a user list the runbook replaces: dropped values are destructive', () => {
  const p = planVaultRelease({ server: { dev: { enabled: true }, serviceAccount: ['odd'] }, injector: { enabled: false } }, undefined, 'vault');
  assert.ok(p.destructive);
  assert.ok(p.diff.some((l) => l.startsWith('DESTRUCTIVE server.serviceAccount')));
});

test.run();
