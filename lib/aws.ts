// AWS SDK v3 clients built from the configuration: endpoint from
// AWS_ENDPOINT_URL, credentials from the standard chain (AWS_PROFILE included),
// standard retries. Every call is recorded and every failure becomes one sentence.
// Each client (and the SDK runtime under it) is loaded at its first call: a Vault
// step never loads the AWS SDK, step 02 never loads EKS.
import type { IAMClient } from '@aws-sdk/client-iam';
import type { STSClient } from '@aws-sdk/client-sts';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { Config } from './config.js';
import { recordCall } from './calls.js';
import { ConfigError, RemoteError, RunbookError } from './errors.js';
import { DEFERRED, isDeferred } from './aws-commands.js';
import { ReadCache } from './read-cache.js';

/** What the steps use of a client: send(), which loads the client on first use, and its service id. */
export type LazyClient<C extends { send: unknown }> = Pick<C, 'send'> & { readonly service: string };

export interface AwsClients {
  iam: LazyClient<IAMClient>;
  sts: LazyClient<STSClient>;
  eks: LazyClient<EKSClient>;
}

/**
 * A client made at its first send(). A stand-in command (lib/aws-commands.ts) becomes the
 * SDK's own command there, from the module that was loaded for the client.
 */
function lazy<C extends AnyClient>(service: string, cache: ReadCache, load: () => Promise<{ client: C; sdk: Record<string, unknown> }>): LazyClient<C> {
  let loaded: Promise<{ client: C; sdk: Record<string, unknown> }> | undefined;
  const send = (command: unknown, ...rest: unknown[]) => {
    const name = isDeferred(command) ? command[DEFERRED].name : (command as object).constructor.name;
    const input = (command as { input?: unknown }).input;
    const call = async () => {
      const { client, sdk } = await (loaded ??= load());
      const real = isDeferred(command) ? new (sdk[name] as new (input: unknown) => unknown)(input) : command;
      return (client.send as (...a: unknown[]) => Promise<unknown>)(real, ...rest);
    };
    // A run's reads are kept until its next write (lib/read-cache.ts); a session is not a read to keep.
    const action = name.replace(/Command$/, '');
    if (!READ_ONLY.test(action)) return cache.write(call);
    if (/^AssumeRole/.test(action) || rest.length) return call();
    return cache.read(`${service} ${action} ${JSON.stringify(input)}`, call);
  };
  return { send: send as unknown as C['send'], service };
}

// Assuming a role makes a session, not a change: it is not a write.
const READ_ONLY = /^(Get|List|Describe|AssumeRole)/;

type AnyClient = IAMClient | STSClient | EKSClient;

function instrument<C extends AnyClient>(client: C): C {
  const service = serviceOf(client);
  (client.middlewareStack as { add: (mw: unknown, opts: unknown) => void }).add(
    (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      const action = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      recordCall({ service, action, mutating: !READ_ONLY.test(action) });
      return next(args);
    },
    { step: 'initialize', name: 'vaultIrsaCallRecorder' },
  );
  return client;
}

// Node 20 is this project's supported runtime; the SDK's notice about its
// 2027 plans would otherwise precede every step's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export function awsClients(config: Config, overrides: { credentials?: IAMClient['config']['credentials'] } = {}): AwsClients {
  const common = {
    region: config.region,
    maxAttempts: config.awsMaxAttempts,
    retryMode: 'standard',
    ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}),
    ...(overrides.credentials ? { credentials: overrides.credentials } : {}),
  };
  // One cache for the three clients: a write to IAM forgets what STS or EKS answered too.
  const cache = new ReadCache();
  return {
    iam: lazy('iam', cache, async () => {
      const sdk = await import('./aws-sdk-iam.js');
      return { client: instrument(new sdk.IAMClient(common)), sdk };
    }),
    sts: lazy('sts', cache, async () => {
      const sdk = await import('./aws-sdk-sts.js');
      return { client: instrument(new sdk.STSClient(common)), sdk };
    }),
    eks: lazy('eks', cache, async () => {
      const sdk = await import('./aws-sdk-eks.js');
      return { client: instrument(new sdk.EKSClient(common)), sdk };
    }),
  };
}

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $retryable?: { throttling?: boolean };
  cause?: { code?: string };
}

/** Pure: turn an SDK failure into a sentence that says what to do. */
export function describeAwsError(service: string, action: string, err: unknown, config: Pick<Config, 'awsEndpoint' | 'profile' | 'region'>): RunbookError {
  if (err instanceof RunbookError) return err;
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? e.code ?? 'Error';
  const netCode = e.code ?? e.cause?.code ?? (/(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN)/.exec(e.message ?? '')?.[1]);
  const where = config.awsEndpoint ? `AWS endpoint ${config.awsEndpoint}` : `AWS in ${config.region}`;
  if (netCode && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN/.test(netCode)) {
    return new RemoteError(service, action, `${where} does not answer (${netCode}) during ${service}:${action}: check ${netCode === 'ENOTFOUND' && !config.awsEndpoint ? `AWS_REGION (${config.region} has no ${service} endpoint)` : 'AWS_ENDPOINT_URL'} and the network${config.awsEndpoint ? ' (lab: make lab-up)' : ''}`, netCode);
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials|credential/i.test(e.message ?? '') && !e.$metadata?.httpStatusCode) {
    return new ConfigError(`no AWS credentials were found${config.profile ? ` for AWS_PROFILE=${config.profile}` : ''}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (lab: eval "$(make -s lab-env)")`);
  }
  if (['InvalidClientTokenId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'ExpiredToken', 'ExpiredTokenException'].includes(name)) {
    return new ConfigError(`AWS rejected the credentials (${name}) during ${service}:${action}: refresh them (aws sso login, or new keys) or pick another AWS_PROFILE`);
  }
  const msg = (e.message ?? String(err)).split('\n')[0];
  // Not AWS at all (a web server, Vault, an emulator that crashed): no AWS error code in the answer.
  if (/Deserialization error|XML parse error|Unexpected token/.test(e.message ?? '') || (name === 'Unknown' && (e.message ?? 'Unknown') === 'Unknown')) {
    const http = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    return new RemoteError(service, action, `${where} answered ${service}:${action} with something that is not an AWS response${http}${config.awsEndpoint ? `: check that AWS_ENDPOINT_URL is AWS or its emulator, and AWS_REGION ${config.region} (an emulator may not implement this action or region)` : ''}`, 'BadResponse');
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || e.$metadata?.httpStatusCode === 403) {
    return new RemoteError(service, action, `AWS denied ${service}:${action}: ${msg} — grant this permission to the identity the runbook uses`, name);
  }
  // Throttling and 5xx are retried by the SDK: say that the retry budget is spent, and what to do.
  const status = e.$metadata?.httpStatusCode ?? 0;
  const attempts = e.$metadata?.attempts ?? 0;
  const transient = status >= 500 || status === 429 || Boolean(e.$retryable?.throttling) || /Throttl|RequestLimitExceeded|TooManyRequests|SlowDown/.test(name);
  const spent = transient && attempts > 0 ? ` — gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: try again later, or raise AWS_MAX_ATTEMPTS` : '';
  return new RemoteError(service, action, `AWS ${service}:${action} failed (${name}): ${msg}${spent}`, name);
}

/** What an SDK v3 command answers (its middleware handler's output). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OutputOf<C> = C extends { resolveMiddleware(...a: any[]): (...b: any[]) => Promise<{ output: infer O }> } ? O : never;

/** The action a command stands for, as the SDK names it: GetRoleCommand -> GetRole. */
export function actionOf(command: object): string {
  return command.constructor.name.replace(/Command$/, '');
}

/**
 * Send a command; failures become RunbookErrors naming the service and the
 * action, both taken from the SDK (the client's service id, the command's
 * class). `expect` names error codes the caller handles itself.
 */
export async function send<C extends object>(
  config: Config,
  client: AnyClient | LazyClient<AnyClient>,
  command: C,
  expect: string[] = [],
): Promise<OutputOf<C> | { notFound: string }> {
  try {
    return (await (client as unknown as { send(c: C): Promise<OutputOf<C>> }).send(command));
  } catch (err) {
    const name = (err as AwsLikeError).name ?? '';
    if (expect.includes(name)) return { notFound: name };
    throw describeAwsError(serviceOf(client), actionOf(command), err, config);
  }
}

function serviceOf(client: { config?: unknown; service?: string }): string {
  if (typeof client.service === 'string') return client.service;
  const id = (client.config as { serviceId?: string } | undefined)?.serviceId;
  return (id ?? 'aws').toLowerCase();
}

export function isNotFound<T>(r: T | { notFound: string }): r is { notFound: string } {
  return typeof r === 'object' && r !== null && 'notFound' in r && Object.keys(r as object).length === 1;
}

/** Pure: fields of an ARN, or undefined when it is not one. */
export function parseArn(arn: string): { partition: string; service: string; region: string; account: string; resource: string } | undefined {
  const m = /^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, account: m[4] ?? '', resource: m[5]! };
}
