// Backs lab/bin/env: shell `export` lines for the running lab (root token included —
// this is the one command that prints it).
import { readLabEnv, LabNotRunningError, LAB_NOT_RUNNING } from './lab.js';

// `lab/bin/env | head` closes the pipe early; that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => process.exit(e.code === 'EPIPE' ? 0 : 1));

const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
try {
  const e = readLabEnv();
  const vars: [string, string][] = [
    ['AWS_ENDPOINT_URL', e.awsEndpoint],
    ['AWS_REGION', e.region],
    ['AWS_ACCESS_KEY_ID', e.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', e.secretAccessKey],
    ['VAULT_ADDR', e.vaultAddr],
    ['VAULT_TOKEN', e.vaultToken],
    // Vault reaches AWS through the lab's front for moto (see lab/lib/servers.ts).
    ['VAULT_AWS_ENDPOINT_URL', e.stsProxyUrl],
    ['CLUSTER_NAME', e.vaultCluster],
    ['LAB_ISSUER_URL', e.issuerUrl],
    ['LAB_DIR', e.labDir],
  ];
  // A profile or session token from the user's shell would win over (or spoil) the lab's keys.
  console.log('unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE');
  for (const [k, v] of vars) console.log(`export ${k}=${quote(v)}`);
} catch (err) {
  console.error(err instanceof LabNotRunningError ? LAB_NOT_RUNNING : String(err));
  process.exit(1);
}
