// Where a web-identity token for a service account comes from: by default
// `kubectl create token <sa> -n <ns> --audience sts.amazonaws.com`, as on EKS;
// with SA_TOKEN_COMMAND set, `<command> <namespace> <serviceaccount>` with
// CLUSTER_NAME in its environment (the lab sets it to its own issuer's minter).
// The token is a secret: registered for redaction at once, never printed.
import { execFile } from 'node:child_process';
import type { Config } from './config.js';
import { RemoteError } from './errors.js';
import { kubectl, firstLine, requireKubectlCreateToken } from './kube.js';
import { addSecret } from './redact.js';
import { STS_AUDIENCE } from './iam-documents.js';

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface WebIdentityToken {
  jwt: string;
  /** How it was obtained, for the report (never the token). */
  source: string;
}

/** Pure: the command words; SA_TOKEN_COMMAND is split on spaces (a program and fixed arguments). */
export function tokenCommand(config: Pick<Config, 'saTokenCommand'>, namespace: string, serviceAccount: string): string[] {
  if (config.saTokenCommand) return [...config.saTokenCommand.split(/\s+/).filter(Boolean), namespace, serviceAccount];
  return ['kubectl', 'create', 'token', serviceAccount, '-n', namespace, '--audience', STS_AUDIENCE];
}

export async function webIdentityToken(config: Config, namespace: string, serviceAccount: string): Promise<WebIdentityToken> {
  const words = tokenCommand(config, namespace, serviceAccount);
  let out: string;
  if (!config.saTokenCommand) {
    try {
      out = await kubectl(words.slice(1), { config });
    } catch (err) {
      // A kubectl older than 1.24 has no `create token`: that is said rather than its usage
      // error. Asked only after a failure: a working kubectl makes a token in one process.
      await requireKubectlCreateToken(config);
      throw err;
    }
  } else {
    // A program and its arguments, no shell: started at once, without loading zx first
    // (step 12 starts it before anything else of the run, lib/run.ts).
    try {
      out = await new Promise<string>((resolve, reject) => {
        execFile(words[0]!, words.slice(1), { env: { ...process.env, CLUSTER_NAME: config.clusterName }, timeout: 30_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout)));
      });
    } catch (err) {
      const e = err as { stderr?: string; message?: string; code?: string };
      const why = e.code === 'ENOENT' ? 'not found' : firstLine(e.stderr ?? '') || firstLine(e.message ?? '') || 'failed';
      throw new RemoteError('token', 'SA_TOKEN_COMMAND', `SA_TOKEN_COMMAND (${words[0]}) could not make a token for ${namespace}/${serviceAccount}: ${why}`);
    }
  }
  const jwt = out.trim();
  addSecret(jwt);
  if (!JWT.test(jwt)) {
    const what = config.saTokenCommand ? `SA_TOKEN_COMMAND (${words[0]})` : '`kubectl create token`';
    throw new RemoteError('token', words[0]!, `${what} printed no JWT for ${namespace}/${serviceAccount}: it must print only the token on stdout`);
  }
  return { jwt, source: config.saTokenCommand ? `SA_TOKEN_COMMAND (${words[0]!.split('/').pop()})` : 'kubectl create token' };
}
