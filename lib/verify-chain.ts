// The chain Gloo depends on, link by link (step 12 proves it; step 13 names
// what breaks it): token -> trust -> STS -> Vault login -> KV as Gloo, and on a
// cluster with Gloo: the running gloo pod's identity (6) and Gloo's own Vault
// login, from its metrics (7). Each link is ok or failed with the reason; the
// first broken one ends the chain. Link 7 alone can also be "not checked" (its
// metrics could not be read): neither a pass nor a failure.
import { AssumeRoleWithWebIdentityCommand } from './aws-commands.js';
import { GetOpenIDConnectProviderCommand } from './aws-commands.js';
import { decodeJwt } from 'jose';
import { isDeepStrictEqual } from 'node:util';
import type { Ctx } from './step.js';
import { RunbookError, VerificationError } from './errors.js';
import { isNotFound, send } from './aws.js';
import { vaultRoleName, type Config } from './config.js';
import { Vault } from './vault.js';
import { addSecret } from './redact.js';
import { cmd, raw } from './shell.js';
import { awsCli } from './aws-cli.js';
import { tokenCommand, webIdentityToken, type WebIdentityToken } from './web-identity.js';
import { hasKubeCluster, kubectl } from './kube.js';
import { podIdentityProblems } from './gloo-pods.js';
import { GLOO_STATS_PORT, glooLoginVerdict, readGlooMetrics } from './gloo-metrics.js';
import { getRole } from './iam-role.js';
import { oidcProviderArn, STS_AUDIENCE } from './iam-documents.js';
import { stsEndpoint } from './vault-documents.js';
import { early } from './early.js';
import { buildIamLoginRequest, iamLogin, type ServerIdMode } from './iam-login.js';
import { checkTokenAgainstTrust, diagnoseProvider, explainLoginFailure, type TokenClaims } from './troubleshoot.js';

export const TEST_SECRET = 'irsa-verify';
export const GLOO_SA = 'gloo';

/** Pure: where Gloo keeps a secret in Vault (GUIDE "Where Gloo keeps secrets in Vault"). */
export function glooSecretPath(config: Pick<Config, 'kvMount' | 'rootKey'>, namespace: string, name: string, kind: 'data' | 'metadata' = 'data'): string {
  return `${config.kvMount}/${kind}/${config.rootKey}/gloo.solo.io/v1/Secret/${namespace}/${name}`;
}

/** Pure: a Gloo Secret as solo-kit stores it (metadata.name/namespace plus one kind). */
export function glooSecret(namespace: string, name: string, nonce: string): Record<string, unknown> {
  return { metadata: { name, namespace }, header: { headers: { 'x-irsa-verify': nonce } } };
}

// Tokens asked for at the start of a run (prefetchToken), per run and service account.
const earlyTokens = new WeakMap<Ctx, Map<string, Promise<WebIdentityToken>>>();

/**
 * Step 12's startEarly: the web-identity token link 1 needs depends on nothing the run
 * makes, and making it (SA_TOKEN_COMMAND, or `kubectl create token`) is a process of a
 * tenth of a second or more: it is asked for first thing in an applying run (lib/run.ts),
 * so that it runs while this process loads its clients, and taken by link 1. A token that could not be made then is asked for again by link 1 (on a first
 * run the service account may only appear with step 11), which reports the failure.
 */
export function prefetchToken(ctx: Ctx, serviceAccount: string = GLOO_SA): Promise<unknown> {
  if (ctx.mode !== 'apply') return Promise.resolve();
  const key = `${ctx.config.namespace}/${serviceAccount}`;
  const tokens = earlyTokens.get(ctx) ?? new Map<string, Promise<WebIdentityToken>>();
  earlyTokens.set(ctx, tokens);
  if (!tokens.has(key)) tokens.set(key, early(webIdentityToken(ctx.config, ctx.config.namespace, serviceAccount)));
  return tokens.get(key)!;
}

/** The token prefetchToken asked for (once: a later chain makes its own), else a new one. */
async function tokenFor(ctx: Ctx, ns: string, sa: string): Promise<WebIdentityToken> {
  const key = `${ns}/${sa}`;
  const asked = earlyTokens.get(ctx)?.get(key);
  earlyTokens.get(ctx)?.delete(key);
  if (asked) {
    try {
      return await asked;
    } catch {
      // made again below: its failure is the one reported
    }
  }
  return webIdentityToken(ctx.config, ns, sa);
}

export interface Link {
  n: number;
  name: string;
  /** Proven. A link that is not ok is broken, unless notChecked. */
  ok: boolean;
  /** Link 7 only: it could not be read (not ok, and not broken); detail says why. */
  notChecked?: boolean;
  detail: string;
}

/** The first broken link (not ok and not merely not checked), if any. */
export function brokenLink(links: Link[]): Link | undefined {
  return links.find((l) => !l.ok && !l.notChecked);
}

export interface ChainOptions {
  /** Negative cases: how the server-ID header is sent, and which value. */
  serverIdMode?: ServerIdMode;
  serverId?: string;
  /** Assume this IAM role instead of the one from step 02. */
  roleArn?: string;
  /** The service account whose token is used (default gloo). */
  serviceAccount?: string;
  /** Told why links 6 and 7 (the running gloo pod, Gloo's own login) were not links: no cluster, or no gloo deployment on it. */
  onPodsNotChecked?: (why: string) => void;
  /** Where link 7 reads Gloo's metrics (default 9091, Gloo's stats port; tests only). */
  glooStatsPort?: number;
}

/** The chain, link by link. Stops at the first broken link; never throws for a broken link. */
export async function verifyChain(ctx: Ctx, opts: ChainOptions = {}, report: (l: Link, ms: number) => void = () => undefined): Promise<Link[]> {
  const { config, state } = ctx;
  const ns = config.namespace;
  const sa = opts.serviceAccount ?? GLOO_SA;
  const roleArn = opts.roleArn ?? state.get('roleArn')!;
  const links: Link[] = [];
  const step = async (n: number, name: string, fn: () => Promise<string>): Promise<boolean> => {
    const t0 = performance.now();
    let link: Link;
    try {
      link = { n, name, ok: true, detail: await fn() };
    } catch (err) {
      link = { n, name, ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    links.push(link);
    report(link, performance.now() - t0);
    return link.ok;
  };
  const fail = (why: string): never => {
    throw new Error(why);
  };

  // Reads later links make that depend on no earlier link, sent while the token is made:
  // the role's trust and the OIDC provider (link 2, the provider as step 01 recorded it)
  // and Vault's health (link 4, VAULT_ADDR only: never a port-forward from here). The
  // run's read caches (lib/read-cache.ts) hand their answers to the links; a failure here
  // is ignored and met again by the link that makes the read.
  early(getRole(ctx, roleArn.split('/').pop()!));
  const recorded = state.get('providerArn');
  if (recorded) early(send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: recorded }), ['NoSuchEntityException', 'NoSuchEntity']));
  void ctx.reachEarly();
  // Link 6's cluster reads too (is there a gloo deployment, its running pods): a kubectl
  // process each, run while links 1-5 talk to AWS and Vault. Without a cluster neither
  // starts a process (hasKubeCluster decides from files first).
  const deployment = early(glooNotDeployed(ctx, ns, sa));
  const podsRead = early(hasKubeCluster(config).then((yes) => (yes ? podIdentityProblems(config, roleArn, [sa]) : undefined)));

  // 1 token
  let jwt = '';
  let claims: TokenClaims | undefined;
  if (!(await step(1, `web-identity token for ${ns}/${sa}`, async () => {
    const t = await tokenFor(ctx, ns, sa);
    jwt = t.jwt;
    addSecret(jwt);
    const c = decodeJwt(jwt);
    claims = { iss: String(c.iss), sub: String(c.sub), aud: (c.aud ?? '') as string | string[] };
    return `${t.source}: sub ${claims.sub}, aud ${JSON.stringify(claims.aud)}`;
  }))) return links;

  // 2 trust
  if (!(await step(2, `trust policy of ${roleArn.split('/').pop()}`, async () => {
    const provider = oidcProviderArn(config.partition, state.get('account') ?? roleArn.split(':')[4]!, claims!.iss.replace(/^https:\/\//, '').replace(/\/$/, ''));
    const live = await send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: provider }), ['NoSuchEntityException', 'NoSuchEntity']);
    const pf = diagnoseProvider(provider, isNotFound(live) ? undefined : { clientIds: live.ClientIDList ?? [] });
    if (pf) fail(`${pf.title}: ${pf.explanation}`);
    const role = await getRole(ctx, roleArn.split('/').pop()!);
    if (!role) fail(`IAM role ${roleArn} does not exist: run step 02`);
    const problems = checkTokenAgainstTrust(claims!, role!.trust, (p) => oidcProviderArn(config.partition, roleArn.split(':')[4]!, p));
    const denying = problems.filter((p) => /: the token has |trusts federated principal|no Allow statement/.test(p));
    if (denying.length) fail(denying.join('; '));
    return `trusts sub ${claims!.sub} and aud ${STS_AUDIENCE} from ${provider}${problems.length ? ` (weak: ${problems.join('; ')})` : ''}`;
  }))) return links;

  // 3 STS
  let creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string } | undefined;
  let callerArn = '';
  if (!(await step(3, 'sts:AssumeRoleWithWebIdentity', async () => {
    const res = await send(config, ctx.aws.sts, new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'vault-irsa-verify', WebIdentityToken: jwt, DurationSeconds: 900 }));
    if (isNotFound(res) || !res.Credentials?.AccessKeyId || !res.Credentials.SecretAccessKey || !res.Credentials.SessionToken) return fail('STS returned no credentials');
    addSecret(res.Credentials.SecretAccessKey);
    addSecret(res.Credentials.SessionToken);
    creds = { accessKeyId: res.Credentials.AccessKeyId, secretAccessKey: res.Credentials.SecretAccessKey, sessionToken: res.Credentials.SessionToken };
    callerArn = res.AssumedRoleUser?.Arn ?? roleArn;
    return `assumed ${callerArn}`;
  }))) return links;

  // 4 Vault login
  let token = '';
  const vaultAddr = (await ctx.reach()).addr;
  const role = vaultRoleName(config);
  const serverId = opts.serverId ?? config.iamServerIdHeader;
  if (!(await step(4, `Vault login at auth/${config.authMount} as role ${role}`, async () => {
    const req = await buildIamLoginRequest({ role, credentials: creds!, region: config.region, stsUrl: `${stsEndpoint(config)}/`, serverId, serverIdMode: opts.serverIdMode ?? 'signed' });
    try {
      const res = await iamLogin(vaultAddr, config.authMount, req);
      token = res.token;
      return `token with policies ${res.policies.join(', ')} (TTL ${res.leaseDuration}s)`;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const facts = await loginFacts(ctx);
      return fail(`${explainLoginFailure(msg, { mount: config.authMount, role, serverIdSent: opts.serverIdMode === 'omitted' ? undefined : serverId, callerArn, ...facts })} (Vault: ${msg.replace(/^Vault POST \S+ failed /, '')})`);
    }
  }))) return links;

  // 5 KV as Gloo
  if (!(await step(5, `Gloo secret ${ns}/${TEST_SECRET} in ${config.kvMount}/ (KV v2)`, async () => {
    const vault = new Vault({ vaultAddr, vaultToken: token });
    const dataPath = glooSecretPath(config, ns, TEST_SECRET);
    const value = glooSecret(ns, TEST_SECRET, `${Date.now()}`);
    const explain = (what: string, err: unknown): never => fail(`${what} ${dataPath} with the login token failed: ${err instanceof RunbookError ? err.message : String(err)}${/permission denied|403/.test(String((err as Error)?.message)) ? ` — policy ${config.vaultPolicyName} must allow ${config.kvMount}/*` : ''}`);
    const wrote = await vault.write(dataPath, { data: value }).catch((e) => explain('write', e));
    // KV v2 answers a write with the new version (data.version); a v1 mount stores <mount>/data/... as a
    // plain path, answers nothing, and would read the same value back: tell them apart by the answer.
    if (typeof (wrote?.data as { version?: unknown } | undefined)?.version !== 'number') {
      await vault.delete(dataPath).catch(() => undefined); // on v1, the write made a plain secret at that path
      fail(`${config.kvMount}/ answers like KV version 1: a write to ${dataPath} returned no version, so Gloo's ${config.kvMount}/data/... and ${config.kvMount}/metadata/... paths do not exist there — Gloo needs KV v2 (make troubleshoot names it; make step-06 ARGS=--yes upgrades it)`);
    }
    const back = await vault.read(dataPath).catch((e) => explain('read', e));
    const got = (back?.data as { data?: unknown } | undefined)?.data;
    if (!isDeepStrictEqual(got, value)) fail(`read back ${dataPath}: got ${JSON.stringify(got) ?? 'nothing'}, wrote ${JSON.stringify(value)}${back && !(back.data as Record<string, unknown>)?.data ? ' — the mount answers like KV v1: Gloo needs v2 (make troubleshoot)' : ''}`);
    await vault.delete(glooSecretPath(config, ns, TEST_SECRET, 'metadata')).catch((e) => explain('delete', e));
    return `wrote, read back and deleted ${dataPath}`;
  }))) return links;

  // 6 the running gloo pod: on a cluster with Gloo installed, the pod itself must run
  // with the role (the webhook sets AWS_ROLE_ARN at pod creation only). Without a
  // cluster, or without a gloo deployment there (the lab's plain runs), it is not a link.
  // What it reads is the pod spec (the env the webhook put there): not Gloo's own Vault login.
  const notDeployed = await deployment;
  if (notDeployed) {
    opts.onPodsNotChecked?.(notDeployed);
    return links;
  }
  let running: { name: string; statsServer?: string }[] = [];
  if (!(await step(6, `running ${sa} pod in ${ns} runs as ${roleArn.split('/').pop()}`, async () => {
    const pods = (await podsRead) ?? (await podIdentityProblems(config, roleArn, [sa]));
    if (pods.problems.length) fail(pods.problems.join('; '));
    running = pods.running;
    return `${pods.pods} running ${sa} pod(s) have AWS_ROLE_ARN=${roleArn} and AWS_WEB_IDENTITY_TOKEN_FILE in their spec`;
  }))) return links;

  // 7 Gloo's own Vault login: the login counters on the running pods' metrics page
  // (:9091/metrics), read through the API server's pod proxy. Counters that show only
  // failures break the link; a page that cannot be read (stats server off, a pod with
  // no process behind it, as kwok's) leaves it not checked: never a pass by default.
  const t0 = performance.now();
  const port = opts.glooStatsPort ?? GLOO_STATS_PORT;
  const verdict = glooLoginVerdict(await readGlooMetrics(config, running, port), ns, sa, port);
  const login: Link = { n: 7, name: `Gloo's own Vault login, from the ${sa} pods' metrics`, ok: verdict.outcome === 'ok', detail: verdict.detail, ...(verdict.outcome === 'not checked' ? { notChecked: true } : {}) };
  links.push(login);
  report(login, performance.now() - t0);
  return links;
}

/** Why there is no gloo deployment to check (no cluster, or none in the namespace); undefined when there is one. Never throws. */
async function glooNotDeployed(ctx: Ctx, ns: string, sa: string): Promise<string | undefined> {
  if (!(await hasKubeCluster(ctx.config))) return 'no Kubernetes cluster answers kubectl';
  try {
    await kubectl(['get', 'deployment', sa, '-n', ns, '-o', 'name'], { config: ctx.config });
    return undefined;
  } catch {
    return `no deployment ${sa} in ${ns} (step 11 installs it)`;
  }
}

/** What Vault is configured with, to explain a refused login (read with VAULT_TOKEN; best effort). */
async function loginFacts(ctx: Ctx): Promise<{ liveServerId?: string; boundArns?: string[] }> {
  if (!ctx.config.vaultToken) return {};
  try {
    const vault = await ctx.reach();
    const c = (await vault.read(`auth/${ctx.config.authMount}/config/client`))?.data as Record<string, unknown> | undefined;
    const r = (await vault.read(`auth/${ctx.config.authMount}/role/${vaultRoleName(ctx.config)}`))?.data as Record<string, unknown> | undefined;
    const bound = r?.bound_iam_principal_arn;
    return {
      ...(typeof c?.iam_server_id_header_value === 'string' ? { liveServerId: c.iam_server_id_header_value } : {}),
      ...(bound ? { boundArns: Array.isArray(bound) ? bound.map(String) : [String(bound)] } : {}),
    };
  } catch {
    return {};
  }
}

