// Backs lab/bin/env: shell lines that point a shell at the running lab
// (root token included — this is the one command that prints it).
//
// The user's settings win: names and region (CLUSTER_NAME, AWS_REGION) are printed
// only when the shell has none, and a value the user set is checked against the lab
// instead of replaced. What only the lab can supply — its endpoints, keys and
// token — is always printed, and a shell value it replaces is named on stderr.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readLabEnv, type LabEnv } from './lab.js';
import { LabError, LAB_ROOT } from './settings.js';

export const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

export function envLines(e: LabEnv, shell: NodeJS.ProcessEnv): { lines: string[]; replaced: string[] } {
  const saToken = fileURLToPath(new URL('../bin/sa-token', import.meta.url));
  const connection: [string, string][] = [
    ['AWS_ENDPOINT_URL', e.awsEndpoint],
    ['AWS_ACCESS_KEY_ID', e.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', e.secretAccessKey],
    ['VAULT_ADDR', e.vaultAddr],
    ['VAULT_TOKEN', e.vaultToken],
    // Vault reaches AWS through the lab's front for moto (see lab/lib/servers.ts).
    ['VAULT_AWS_ENDPOINT_URL', e.stsProxyUrl],
    ['LAB_ISSUER_URL', e.issuerUrl],
    ['LAB_DIR', e.labDir],
    // Without the lab's Kubernetes API, service-account tokens come from the lab's
    // issuer; with it (LAB_K8S=1), from `kubectl create token`, as on EKS.
    ...(e.kubeconfig
      ? ([
          ['KUBECONFIG', e.kubeconfig],
          // The lab's stand-in charts (lab/charts) with its own API server: nothing to download,
          // no repository to add. Docker mode's kind cluster gets the real charts.
          ...(e.labCharts === false
            ? []
            : [
                ['VAULT_HELM_CHART', join(LAB_ROOT, 'lab', 'charts', 'vault')],
                ['GLOO_HELM_CHART', join(LAB_ROOT, 'lab', 'charts', 'gloo')],
              ]),
        ] as [string, string][])
      : ([['SA_TOKEN_COMMAND', saToken]] as [string, string][])),
  ];
  const replaced = connection.filter(([k, v]) => shell[k] !== undefined && shell[k] !== '' && shell[k] !== v).map(([k]) => k);
  // A profile or session token from the user's shell would win over (or spoil) the lab's keys.
  for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_PROFILE']) if (shell[k]) replaced.push(k);

  // A minter from an earlier lab-env would bypass kubectl.
  if (e.kubeconfig && shell.SA_TOKEN_COMMAND) replaced.push('SA_TOKEN_COMMAND');
  const lines = [`unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE${e.kubeconfig ? ' SA_TOKEN_COMMAND' : ''}`];
  for (const [k, v] of connection) lines.push(`export ${k}=${quote(v)}`);

  if (shell.AWS_REGION) {
    if (shell.AWS_REGION !== e.region)
      throw new LabError(`the lab runs in region ${e.region}, but AWS_REGION=${shell.AWS_REGION} in your shell: unset AWS_REGION, or run \`make lab-reset\` with AWS_REGION=${shell.AWS_REGION}`);
  } else lines.push(`export AWS_REGION=${quote(e.region)}`);
  // AWS CLI v1 reads only AWS_DEFAULT_REGION.
  if (!shell.AWS_DEFAULT_REGION) lines.push(`export AWS_DEFAULT_REGION=${quote(e.region)}`);

  // The CLIs the lab built (LAB_DIR/bin: vault with LAB_VAULT_CLI=1, kubectl and helm with LAB_K8S=1) come first on PATH.
  const bin = join(e.labDir, 'bin');
  if (existsSync(bin) && readdirSync(bin).length && !(shell.PATH ?? '').split(':').includes(bin)) lines.push(`export PATH=${quote(bin)}:"$PATH"`);

  if (shell.CLUSTER_NAME) {
    if (!e.clusters[shell.CLUSTER_NAME])
      throw new LabError(`the lab has no cluster ${shell.CLUSTER_NAME} (CLUSTER_NAME in your shell): run \`CLUSTER_NAME=${shell.CLUSTER_NAME} make lab-up\` to add it`);
  } else lines.push(`export CLUSTER_NAME=${quote(e.vaultCluster)}`);
  return { lines, replaced };
}

export function printEnv(dir: string, shell: NodeJS.ProcessEnv = process.env): void {
  const e = readLabEnv(dir);
  const { lines, replaced } = envLines(e, shell);
  if (replaced.length) process.stderr.write(`lab-env: the lab's own endpoints and keys replace ${replaced.join(', ')} from your shell\n`);
  process.stdout.write(lines.join('\n') + '\n');
}

