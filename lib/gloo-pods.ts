// The RUNNING Gloo pods and their IRSA environment: step 11's verify and step
// 12's last link both read them (the webhook injects AWS_ROLE_ARN at pod creation).
import type { Config } from './config.js';
import { kubectl } from './kube.js';
import { cmd } from './shell.js';

interface PodList {
  items: { metadata: { name: string; deletionTimestamp?: string }; status?: { phase?: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } }[];
}

/**
 * The RUNNING pods of each service account's deployment (label gloo=<sa>, as the
 * chart sets it) must carry the IRSA environment EKS's webhook injects at pod
 * creation: AWS_ROLE_ARN = the role and AWS_WEB_IDENTITY_TOKEN_FILE. A pod created
 * before the annotation has neither, whatever the service account says now.
 */
export async function podIdentityProblems(config: Config, roleArn: string, serviceAccounts: string[] = config.serviceAccounts): Promise<{ problems: string[]; pods: number }> {
  const problems: string[] = [];
  let pods = 0;
  for (const sa of serviceAccounts) {
    const list = JSON.parse(await kubectl(['get', 'pods', '-n', config.namespace, '-l', `gloo=${sa}`, '-o', 'json'], { config })) as PodList;
    const running = list.items.filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    if (!running.length) problems.push(`no running pod with label gloo=${sa} in ${config.namespace}`);
    for (const p of running) {
      pods++;
      const env = Object.fromEntries((p.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
      if (env.AWS_ROLE_ARN !== roleArn) problems.push(`pod ${config.namespace}/${p.metadata.name} runs with AWS_ROLE_ARN=${env.AWS_ROLE_ARN ?? '(none)'}, wanted ${roleArn} (restart it: ${restartCommand(config)})`);
      else if (!env.AWS_WEB_IDENTITY_TOKEN_FILE) problems.push(`pod ${config.namespace}/${p.metadata.name} has no AWS_WEB_IDENTITY_TOKEN_FILE: is the EKS pod identity webhook running?`);
    }
  }
  return { problems, pods };
}

export function restartCommand(config: Config): string {
  return cmd('kubectl', 'rollout', 'restart', ...config.serviceAccounts.map((sa) => `deployment/${sa}`), '-n', config.namespace);
}

