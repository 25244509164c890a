// The RUNNING Gloo pods and their IRSA environment: step 11's check and verify and
// step 12's last link read them (the webhook injects AWS_ROLE_ARN at pod creation).
import type { Config } from './config.js';
import { kubectl } from './kube.js';
import { cmd } from './shell.js';
import { ROLE_ANNOTATION } from './gloo-values.js';

interface PodList {
  items: { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string }; status?: { phase?: string }; spec: { containers: { env?: { name: string; value?: string }[] }[] } }[];
}

export interface PodIdentity {
  /** One sentence per service account whose running pods do not carry the role. */
  problems: string[];
  /** Running pods seen. */
  pods: number;
  /** Those pods by name, with their START_STATS_SERVER (verify's link 7 reads their metrics). */
  running: { sa: string; name: string; statsServer?: string }[];
  /** Service accounts whose annotation is right but whose running pods predate it: a restart fixes them. */
  stale: string[];
  /** Service accounts whose own annotation is not the role: new pods would lack it too. */
  unannotated: string[];
}

/** The role annotation a service account carries now; undefined when it has none or does not exist. */
export async function roleAnnotation(config: Config, sa: string): Promise<string | undefined> {
  try {
    const obj = JSON.parse(await kubectl(['get', 'serviceaccount', sa, '-n', config.namespace, '-o', 'json'], { config })) as { metadata?: { annotations?: Record<string, string> } };
    return obj.metadata?.annotations?.[ROLE_ANNOTATION];
  } catch {
    return undefined;
  }
}

/**
 * The RUNNING pods of each service account's deployment (label gloo=<sa>, as the
 * chart sets it) must carry the IRSA environment EKS's webhook injects at pod
 * creation: AWS_ROLE_ARN = the role and AWS_WEB_IDENTITY_TOKEN_FILE. A pod created
 * before the annotation has neither, whatever the service account says now; a pod
 * of a service account without the annotation never gets them, restarted or not.
 */
export async function podIdentityProblems(config: Config, roleArn: string, serviceAccounts: string[] = config.serviceAccounts): Promise<PodIdentity> {
  const out: PodIdentity = { problems: [], pods: 0, running: [], stale: [], unannotated: [] };
  const ns = config.namespace;
  // Every service account's pods in one kubectl (label gloo in (gloo,discovery)).
  const all = (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', `gloo in (${serviceAccounts.join(',')})`, '-o', 'json'], { config })) as PodList).items;
  for (const sa of serviceAccounts) {
    const running = all.filter((p) => p.metadata.labels?.gloo === sa && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    if (!running.length) {
      out.problems.push(`no running pod with label gloo=${sa} in ${ns}`);
      continue;
    }
    out.pods += running.length;
    const envOf = (p: PodList['items'][number]) => Object.fromEntries((p.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    for (const p of running) {
      const stats = envOf(p).START_STATS_SERVER;
      out.running.push({ sa, name: p.metadata.name, ...(stats !== undefined ? { statsServer: stats } : {}) });
    }
    const wrongRole = running.filter((p) => envOf(p).AWS_ROLE_ARN !== roleArn);
    const noFile = running.filter((p) => envOf(p).AWS_ROLE_ARN === roleArn && !envOf(p).AWS_WEB_IDENTITY_TOKEN_FILE);
    if (wrongRole.length) {
      const first = wrongRole[0]!;
      const pods = `${wrongRole.length} of ${running.length} running ${sa} pod(s) in ${ns} run without AWS_ROLE_ARN=${roleArn} (${first.metadata.name}: ${envOf(first).AWS_ROLE_ARN ?? 'none'})`;
      const annotation = await roleAnnotation(config, sa);
      if (annotation !== roleArn) {
        out.unannotated.push(sa);
        out.problems.push(`${pods} because service account ${ns}/${sa} carries ${ROLE_ANNOTATION}=${annotation ?? '(none)'}, so a restart alone would not help: run \`make step-11\`, which restores the annotation and restarts the pods`);
      } else {
        out.stale.push(sa);
        out.problems.push(`${pods}: they were created before service account ${ns}/${sa} got the role, so restart them: ${restartCommand(config, [sa])}`);
      }
    } else if (noFile.length) {
      out.problems.push(`${noFile.length} of ${running.length} running ${sa} pod(s) in ${ns} have AWS_ROLE_ARN but no AWS_WEB_IDENTITY_TOKEN_FILE (${noFile[0]!.metadata.name}): is the EKS pod identity webhook running?`);
    }
  }
  return out;
}

/**
 * `kubectl rollout restart` of the service accounts' deployments. kubectl stamps a restart
 * to the second and refuses a second one within the same second ("if restart has already
 * been triggered within the past second"): one made just before (by a person, or a test)
 * may predate the annotation this restart is for, so it is asked again once the second
 * has passed.
 */
export async function rolloutRestart(config: Config, serviceAccounts: string[], wait = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const args = ['rollout', 'restart', ...serviceAccounts.map((sa) => `deployment/${sa}`), '-n', config.namespace];
  try {
    await kubectl(args, { config });
  } catch (err) {
    if (!/within the past second/.test((err as Error).message)) throw err;
    await wait(1100);
    await kubectl(args, { config });
  }
}

export function restartCommand(config: Config, serviceAccounts: string[] = config.serviceAccounts): string {
  return cmd('kubectl', 'rollout', 'restart', ...serviceAccounts.map((sa) => `deployment/${sa}`), '-n', config.namespace);
}
