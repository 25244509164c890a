// Step 12 (`make verify`): prove the whole chain Gloo depends on, link by link:
//   1 a web-identity token for the gloo service account (kubectl create token, or
//     SA_TOKEN_COMMAND: in the lab, the lab issuer),
//   2 its sub/aud against the role's live trust policy (and the OIDC provider),
//   3 sts:AssumeRoleWithWebIdentity,
//   4 the Vault IAM login: GetCallerIdentity signed with the server-ID header,
//   5 as Gloo would: write, read back and delete a Gloo Secret in KV v2 with the
//     token from the login.
// Each link prints ok or failed with the reason; the first broken one ends the
// run with VerificationError (exit 6).
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { GetOpenIDConnectProviderCommand } from '@aws-sdk/client-iam';
import { decodeJwt } from 'jose';
import { isDeepStrictEqual } from 'node:util';
import { defineStep, type Ctx } from '../lib/step.js';
import { RunbookError, VerificationError } from '../lib/errors.js';
import { isNotFound, send } from '../lib/aws.js';
import { vaultRoleName, type Config } from '../lib/config.js';
import { Vault } from '../lib/vault.js';
import { addSecret } from '../lib/redact.js';
import { cmd, raw } from '../lib/shell.js';
import { awsCli } from '../lib/aws-cli.js';
import { tokenCommand, webIdentityToken } from '../lib/web-identity.js';
import { getRole } from '../lib/iam-role.js';
import { oidcProviderArn, STS_AUDIENCE } from '../lib/iam-documents.js';
import { stsEndpoint } from '../lib/vault-documents.js';
import { buildIamLoginRequest, iamLogin, type ServerIdMode } from '../lib/iam-login.js';
import { checkTokenAgainstTrust, diagnoseProvider, explainLoginFailure, type TokenClaims } from '../lib/troubleshoot.js';
import { reachVault } from './04-install-vault.js';
import { recoverRoleArn } from './02-iam-role.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

export const TEST_SECRET = 'irsa-verify';
export const GLOO_SA = 'gloo';

/** Pure: where Gloo keeps a secret in Vault (SPEC "Where Gloo keeps secrets"). */
export function glooSecretPath(config: Pick<Config, 'kvMount' | 'rootKey'>, namespace: string, name: string, kind: 'data' | 'metadata' = 'data'): string {
  return `${config.kvMount}/${kind}/${config.rootKey}/gloo.solo.io/v1/Secret/${namespace}/${name}`;
}

/** Pure: a Gloo Secret as solo-kit stores it (metadata.name/namespace plus one kind). */
export function glooSecret(namespace: string, name: string, nonce: string): Record<string, unknown> {
  return { metadata: { name, namespace }, header: { headers: { 'x-irsa-verify': nonce } } };
}

export interface Link {
  n: number;
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChainOptions {
  /** Negative cases: how the server-ID header is sent, and which value. */
  serverIdMode?: ServerIdMode;
  serverId?: string;
  /** Assume this IAM role instead of the one from step 02. */
  roleArn?: string;
  /** The service account whose token is used (default gloo). */
  serviceAccount?: string;
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

  // 1 token
  let jwt = '';
  let claims: TokenClaims | undefined;
  if (!(await step(1, `web-identity token for ${ns}/${sa}`, async () => {
    const t = await webIdentityToken(config, ns, sa);
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
  const vaultAddr = (await reachVault(ctx)).addr;
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
  await step(5, `Gloo secret ${ns}/${TEST_SECRET} in ${config.kvMount}/ (KV v2)`, async () => {
    const vault = new Vault({ vaultAddr, vaultToken: token });
    const dataPath = glooSecretPath(config, ns, TEST_SECRET);
    const value = glooSecret(ns, TEST_SECRET, `${Date.now()}`);
    const explain = (what: string, err: unknown): never => fail(`${what} ${dataPath} with the login token failed: ${err instanceof RunbookError ? err.message : String(err)}${/permission denied|403/.test(String((err as Error)?.message)) ? ` — policy ${config.vaultPolicyName} must allow ${config.kvMount}/*` : ''}`);
    await vault.write(dataPath, { data: value }).catch((e) => explain('write', e));
    const back = await vault.read(dataPath).catch((e) => explain('read', e));
    const got = (back?.data as { data?: unknown } | undefined)?.data;
    if (!isDeepStrictEqual(got, value)) fail(`read back ${dataPath}: got ${JSON.stringify(got) ?? 'nothing'}, wrote ${JSON.stringify(value)}${back && !(back.data as Record<string, unknown>)?.data ? ' — the mount answers like KV v1: Gloo needs v2 (make troubleshoot)' : ''}`);
    await vault.delete(glooSecretPath(config, ns, TEST_SECRET, 'metadata')).catch((e) => explain('delete', e));
    return `wrote, read back and deleted ${dataPath}`;
  });
  return links;
}

/** What Vault is configured with, to explain a refused login (read with VAULT_TOKEN; best effort). */
async function loginFacts(ctx: Ctx): Promise<{ liveServerId?: string; boundArns?: string[] }> {
  if (!ctx.config.vaultToken) return {};
  try {
    const vault = await reachVault(ctx);
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

export const step = defineStep({
  id: '12',
  name: 'verify',
  title: 'Verify: IRSA token -> STS -> Vault login -> KV (as Gloo)',
  needs: [
    { key: 'account', step: '01' },
    { key: 'roleArn', step: '02', recover: recoverRoleArn },
  ],

  reference(v) {
    const c = v.config;
    return [
      raw(`# 1 a web-identity token for the gloo service account\nexport TOKEN=$(${cmd(...tokenCommand(c, c.namespace, GLOO_SA))})`),
      raw(`# 2 compare its sub/aud with the role's trust policy\necho "$TOKEN" | cut -d. -f2 | base64 -d 2>/dev/null; echo\n${awsCli(c, 'iam', 'get-role', '--role-name', c.roleName, '--query', 'Role.AssumeRolePolicyDocument')}`),
      raw(`# 3 assume the role with it\n${awsCli(c, 'sts', 'assume-role-with-web-identity', '--role-arn', v.roleArn, '--role-session-name', 'vault-irsa-verify', '--web-identity-token', '$TOKEN')}`),
      raw(`# 4 log in to Vault as Gloo does (with the credentials from 3 exported as AWS_*)\n${cmd('vault', 'login', `-path=${c.authMount}`, '-method=aws', `header_value=${c.iamServerIdHeader}`, `role=${c.roleName.toLowerCase()}`, `region=${c.region}`)}`),
      raw(`# 5 write, read and delete a Gloo secret with that token\n${cmd('vault', 'kv', 'put', `-mount=${c.kvMount}`, `${c.rootKey}/gloo.solo.io/v1/Secret/${c.namespace}/${TEST_SECRET}`, `metadata={"name":"${TEST_SECRET}","namespace":"${c.namespace}"}`)}\n${cmd('vault', 'kv', 'get', `-mount=${c.kvMount}`, `${c.rootKey}/gloo.solo.io/v1/Secret/${c.namespace}/${TEST_SECRET}`)}\n${cmd('vault', 'kv', 'metadata', 'delete', `-mount=${c.kvMount}`, `${c.rootKey}/gloo.solo.io/v1/Secret/${c.namespace}/${TEST_SECRET}`)}`),
    ];
  },

  async check(ctx) {
    if (ctx.mode === 'dry-run') {
      return [{ what: 'the IRSA -> STS -> Vault -> KV chain', change: 'skip', note: `not run in a dry run: it writes and deletes a test secret ${glooSecretPath(ctx.config, ctx.config.namespace, TEST_SECRET)} (run make verify)` }];
    }
    return [];
  },

  async verify(ctx) {
    const links = await verifyChain(ctx, {}, (l, ms) => log.action(l.ok ? 'ok' : 'failed', `${l.n} ${l.name}`, ms, l.detail));
    const broken = links.find((l) => !l.ok);
    if (broken) throw new VerificationError(`link ${broken.n} (${broken.name}) is broken: ${broken.detail}`);
    return `all ${links.length} links hold: Gloo's service account reaches its secrets in ${ctx.config.kvMount}/`;
  },
});

if (isMain(import.meta.url)) await main([step]);
