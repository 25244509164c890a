// Integration tests talk to the running lab over HTTP. Each test file takes
// its own cluster name, Vault mount names and state file, so files never see
// each other's resources even though they share one moto and one Vault.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { readLabEnv, type LabEnv } from '../../lab/lib/lab.js';
import { parseConfig, type Config } from '../../lib/config.js';
import { captureOutput } from '../../lib/log.js';
import { resetCalls, callLog, type Call } from '../../lib/calls.js';
import { runSteps, RunFailure, type RunOptions, type StepResult } from '../../lib/run.js';
import type { Step } from '../../lib/step.js';

/** The lab's token minter in this checkout. */
export const SA_TOKEN = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'lab', 'bin', 'sa-token');

export function lab(): LabEnv {
  // Fails the test (not skips it) when the lab is down: the message says how to start it.
  return readLabEnv();
}

/** Environment for one test file: the lab's endpoints and keys plus the overrides. */
export function labEnvVars(overrides: Record<string, string> = {}): Record<string, string> {
  const l = lab();
  return {
    AWS_ENDPOINT_URL: l.awsEndpoint,
    AWS_REGION: l.region,
    AWS_ACCESS_KEY_ID: l.accessKeyId,
    AWS_SECRET_ACCESS_KEY: l.secretAccessKey,
    VAULT_ADDR: l.vaultAddr,
    VAULT_TOKEN: l.vaultToken,
    VAULT_AWS_ENDPOINT_URL: l.stsProxyUrl,
    // The lab's issuer mints the service-account tokens (lab/bin/sa-token, cluster from CLUSTER_NAME).
    SA_TOKEN_COMMAND: SA_TOKEN,
    LAB_DIR: l.labDir,
    ...overrides,
  };
}

/** A Config against the lab; also exports the AWS keys so the SDK's default chain finds them. */
export function labConfig(overrides: Record<string, string> = {}): Config {
  const env = labEnvVars({ STATE_FILE: path.join(tmpDir(), 'state.json'), ...overrides });
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  delete process.env.AWS_PROFILE;
  const { config, problems } = parseConfig(env);
  if (problems.length) throw new Error(`bad test configuration: ${problems.join('; ')}`);
  return config;
}

export function tmpDir(prefix = 'vir-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Make sure moto has this EKS cluster (step 01 reads its issuer). */
export async function ensureCluster(name: string): Promise<string> {
  const l = lab();
  const eks = new EKSClient({ region: l.region, endpoint: l.awsEndpoint, credentials: { accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey } });
  try {
    const d = await eks.send(new DescribeClusterCommand({ name }));
    return d.cluster!.identity!.oidc!.issuer!;
  } catch {
    const c = await eks.send(new CreateClusterCommand({ name, roleArn: `arn:aws:iam::${l.accountId}:role/eks-lab`, resourcesVpcConfig: { subnetIds: [] } }));
    return c.cluster!.identity!.oidc!.issuer!;
  }
}

export interface Run {
  results: StepResult[];
  output: string;
  calls: Call[];
  error?: unknown;
}

/** Run steps in this process, capturing output and the calls they made. */
export async function run(steps: Step[], config: Config, opts: Partial<RunOptions> = {}): Promise<Run> {
  const lines: string[] = [];
  const restore = captureOutput((l) => lines.push(l));
  resetCalls();
  try {
    const results = await runSteps(steps, { mode: 'apply', yes: true, output: 'text', config, ...opts });
    return { results, output: lines.join('\n'), calls: [...callLog()] };
  } catch (err) {
    const e = err instanceof RunFailure ? err : new RunFailure(err, []);
    return { results: e.results, output: lines.join('\n'), calls: [...callLog()], error: e.cause };
  } finally {
    restore();
  }
}

export function mutating(r: Run): Call[] {
  return r.calls.filter((c) => c.mutating);
}
