// Known failures of the guide, recognised from live facts and explained in one
// place (step 12 and step 13 share it). Pure functions only: each takes what
// was read from AWS or Vault and returns a finding, or undefined when all is well.
import { STS_AUDIENCE, oidcProviderOf } from './iam-documents.js';

export interface Finding {
  id: 'getrole-deny' | 'oidc-provider' | 'trust' | 'server-id' | 'kv-version' | 'role-binding' | 'stale-binding' | 'unknown';
  title: string;
  /** What is wrong and why, precisely (names, values). */
  explanation: string;
}

// ---- iam:GetRole implicit deny ----------------------------------------------

export interface GetRoleDenied {
  /** The identity AWS named, e.g. arn:aws:sts::1:assumed-role/node-role/i-123. */
  identityArn: string;
  kind: 'assumed-role' | 'user' | 'role' | 'other';
  /** The IAM role or user to grant the permission to. */
  principalName: string | undefined;
  /** The ARN Vault was resolving (bound_iam_principal_arn). */
  boundArn: string | undefined;
  /** How the identity is known: from AWS's own message, or (when Vault lost that text) from the configuration. */
  namedBy: 'aws' | 'configuration';
}

function identityOf(identityArn: string): Pick<GetRoleDenied, 'kind' | 'principalName'> {
  const resource = identityArn.split(':').slice(5).join(':');
  if (resource.startsWith('assumed-role/')) return { kind: 'assumed-role', principalName: resource.split('/')[1] };
  if (resource.startsWith('user/')) return { kind: 'user', principalName: resource.split('/').pop() };
  if (resource.startsWith('role/')) return { kind: 'role', principalName: resource.split('/').pop() };
  return { kind: 'other', principalName: undefined };
}

/**
 * Pure: recognise Vault's answer when its AWS identity may not call iam:GetRole:
 * `unable to resolve ARN "<arn>" to internal ID: AccessDenied: User: <identity> is
 * not authorized to perform: iam:GetRole ...`. When the AWS error body did not
 * reach Vault intact (`to internal ID: : status code: 403`), the identity is the
 * one the Vault server is configured with (`fallbackIdentityArn`), if known.
 */
export function parseGetRoleDenied(message: string, fallbackIdentityArn?: string): GetRoleDenied | undefined {
  const boundArn = /resolve ARN \\?"?(arn:[^"\\\s]+)\\?"?/i.exec(message)?.[1] ?? /on resource:\s*(arn:[^\s]+)/i.exec(message)?.[1];
  if (/not authorized to perform:?\s*iam:GetRole/i.test(message)) {
    const identityArn = /User:\s*(arn:[^\s]+)\s+is not authorized/i.exec(message)?.[1];
    if (identityArn) return { identityArn, ...identityOf(identityArn), boundArn, namedBy: 'aws' };
  }
  if (/unable to resolve ARN .* to internal ID/i.test(message) && /status code: 403|AccessDenied/i.test(message) && fallbackIdentityArn) {
    return { identityArn: fallbackIdentityArn, ...identityOf(fallbackIdentityArn), boundArn, namedBy: 'configuration' };
  }
  return undefined;
}

export function explainGetRoleDenied(d: GetRoleDenied, vaultServerRoleName: string): Finding {
  const who = d.kind === 'assumed-role' || d.kind === 'role' ? `the Vault server's AWS identity ${d.identityArn} (role ${d.principalName})` : `the Vault server's AWS identity ${d.identityArn}`;
  const node = d.principalName && d.principalName !== vaultServerRoleName
    ? ` This is not the Vault server role ${vaultServerRoleName}: Vault is running with another identity (in the guide, the node's role, because the Gloo role does not trust system:serviceaccount:vault:vault).`
    : '';
  const named = d.namedBy === 'configuration' ? ' (AWS answered 403 to its iam:GetRole but the text did not reach Vault; the identity is the one the Vault server is configured with, VAULT_SERVER_ROLE_NAME)' : '';
  return {
    id: 'getrole-deny',
    title: `implicit deny on iam:GetRole for ${d.identityArn}`,
    explanation: `${who}${named} may not call iam:GetRole, so Vault cannot resolve ${d.boundArn ?? 'the bound ARN'} to its unique ID when the Vault role is written (resolve_aws_unique_ids). No policy of that identity allows the action: AWS denies it implicitly. Gloo itself needs no IAM permission (it only signs sts:GetCallerIdentity).${node}`,
  };
}

// ---- OIDC provider ----------------------------------------------------------

export function diagnoseProvider(providerArn: string, live: { clientIds: string[] } | undefined): Finding | undefined {
  if (!live) {
    return {
      id: 'oidc-provider',
      title: `OIDC provider ${providerArn} is missing`,
      explanation: `IAM has no OIDC provider for the cluster's issuer, so sts:AssumeRoleWithWebIdentity rejects every service-account token (InvalidIdentityToken: no OpenIDConnect provider found).`,
    };
  }
  if (!live.clientIds.includes(STS_AUDIENCE)) {
    return {
      id: 'oidc-provider',
      title: `OIDC provider ${providerArn} does not list ${STS_AUDIENCE}`,
      explanation: `its client ID list is ${JSON.stringify(live.clientIds)}; IRSA tokens carry aud=${STS_AUDIENCE}, which STS only accepts when the provider lists it.`,
    };
  }
  return undefined;
}

// ---- trust policy against a token ---------------------------------------------

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
}

type Cond = Record<string, Record<string, string | string[]>>;
interface Stmt {
  Effect?: string;
  Principal?: Record<string, string | string[]> | string;
  Action?: string | string[];
  Condition?: Cond;
}

const arr = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
const glob = (pattern: string, value: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

/**
 * Pure: would this trust policy let the token assume the role? Returns the
 * problems, each naming the wanted and the actual value (empty: it would).
 * Evaluates StringEquals/StringLike (and their IfExists forms) on <provider>:sub and :aud.
 */
export function checkTokenAgainstTrust(claims: TokenClaims, trust: unknown, providerArnOf: (oidcProvider: string) => string): string[] {
  const provider = oidcProviderOf(claims.iss);
  const providerArn = providerArnOf(provider);
  const auds = arr(claims.aud);
  const all = ((trust as { Statement?: Stmt[] | Stmt })?.Statement ?? []) as Stmt[] | Stmt;
  const stmts: Stmt[] = Array.isArray(all) ? all : [all];
  const candidates = stmts.filter((s) => s.Effect === 'Allow' && arr(s.Action).some((a) => a === 'sts:AssumeRoleWithWebIdentity' || a === 'sts:*' || a === '*'));
  if (!candidates.length) return ['the trust policy has no Allow statement for sts:AssumeRoleWithWebIdentity'];
  const federated = candidates.filter((s) => typeof s.Principal === 'object' && arr(s.Principal.Federated).includes(providerArn));
  if (!federated.length) {
    const named = candidates.flatMap((s) => (typeof s.Principal === 'object' ? arr(s.Principal.Federated) : [])).join(', ') || '(none)';
    return [`the trust policy trusts federated principal ${named}, but the token was issued by ${claims.iss}, whose provider is ${providerArn}`];
  }
  const perStatement: string[][] = [];
  for (const s of federated) {
    const problems: string[] = [];
    const cond = s.Condition ?? {};
    const check = (claim: 'sub' | 'aud', values: string[]): void => {
      const key = `${provider}:${claim}`;
      let constrained = false;
      for (const [op, entries] of Object.entries(cond)) {
        const wanted = entries[key];
        if (wanted === undefined) continue;
        constrained = true;
        const like = /^StringLike/.test(op);
        const wants = arr(wanted);
        if (/IfExists$/.test(op)) problems.push(`${op} on ${key} passes when the key is missing: use StringEquals`);
        if (!values.some((v) => wants.some((w) => (like ? glob(w, v) : w === v)))) {
          problems.push(`${key}: the token has ${JSON.stringify(values.length === 1 ? values[0] : values)}, the trust policy (${op}) allows ${JSON.stringify(wants.length === 1 ? wants[0] : wants)}`);
        }
      }
      if (!constrained) problems.push(`the trust policy puts no condition on ${key}: any ${claim} from this issuer would be trusted`);
    };
    check('aud', auds);
    check('sub', [claims.sub]);
    perStatement.push(problems);
  }
  // One statement that fully matches is enough; weaknesses (IfExists, unconstrained) are still problems.
  const denying = (p: string[]): boolean => p.some((x) => /: the token has /.test(x));
  const allowing = perStatement.find((p) => !denying(p));
  return allowing ?? perStatement[0] ?? [];
}

/** Pure: the claims of a projected service-account token for IRSA. */
export function saClaims(issuer: string, namespace: string, serviceAccount: string): TokenClaims {
  return { iss: issuer, sub: `system:serviceaccount:${namespace}:${serviceAccount}`, aud: STS_AUDIENCE };
}

export function diagnoseTrust(roleName: string, trust: unknown, issuer: string, namespace: string, serviceAccounts: string[], providerArnOf: (p: string) => string): Finding | undefined {
  const lines: string[] = [];
  for (const sa of serviceAccounts) {
    for (const p of checkTokenAgainstTrust(saClaims(issuer, namespace, sa), trust, providerArnOf)) lines.push(`${namespace}/${sa}: ${p}`);
  }
  if (!lines.length) return undefined;
  return { id: 'trust', title: `trust policy of ${roleName} does not match the service-account tokens`, explanation: [...new Set(lines)].join('; ') };
}

// ---- Vault AWS auth -----------------------------------------------------------

export function diagnoseServerId(authMount: string, live: Record<string, unknown> | undefined, wanted: string): Finding | undefined {
  const have = typeof live?.iam_server_id_header_value === 'string' ? live.iam_server_id_header_value : '';
  if (have === wanted) return undefined;
  return {
    id: 'server-id',
    title: `auth/${authMount}/config/client ${have ? `expects server ID ${have}` : 'has no server-ID value'}`,
    explanation: have
      ? `Vault requires X-Vault-AWS-IAM-Server-ID "${have}", but Gloo signs "${wanted}" (IAM_SERVER_ID_HEADER_VALUE, iamServerIdHeader in the Helm values): every login fails with "expected ${have} but got ${wanted}".`
      : `without iam_server_id_header_value Vault accepts a signed GetCallerIdentity captured for any other service (replay): set it to ${wanted}, the value Gloo signs.`,
  };
}

export function diagnoseKv(kvMount: string, entry: { type?: string; options?: Record<string, string> | null } | undefined): Finding | undefined {
  if (!entry || (entry.type !== 'kv' && entry.type !== 'generic')) return undefined;
  if (entry.options?.version === '2') return undefined;
  return {
    id: 'kv-version',
    title: `KV engine at ${kvMount}/ is version 1`,
    explanation: `Gloo reads ${kvMount}/data/<rootKey>/... and lists ${kvMount}/metadata/..., paths only KV version 2 has; on v1 every read of a Gloo secret is a 404. Upgrading rewrites the data in place and cannot be undone.`,
  };
}

export function diagnoseRoleBinding(authMount: string, role: string, live: Record<string, unknown> | undefined, roleArn: string): Finding | undefined {
  if (!live) return undefined;
  const bound = arr(live.bound_iam_principal_arn);
  if (bound.includes(roleArn) || bound.some((b) => b.includes('*') && glob(b, roleArn))) return undefined;
  return {
    id: 'role-binding',
    title: `Vault role ${role} is bound to another ARN`,
    explanation: `auth/${authMount}/role/${role} has bound_iam_principal_arn ${JSON.stringify(bound)}, but Gloo logs in as ${roleArn} (the role on its service accounts): Vault answers "IAM Principal ... does not belong to the role".`,
  };
}

/** Pure: why Vault refused a login, from its message and what the login sent. */
export function explainLoginFailure(message: string, facts: { mount: string; role: string; serverIdSent: string | undefined; callerArn: string; liveServerId?: string; boundArns?: string[] }): string {
  const m = message;
  if (/missing header.*X-Vault-AWS-IAM-Server-ID/i.test(m) || /missing header/i.test(m)) {
    return `Vault requires the ${facts.liveServerId ? `server-ID header "${facts.liveServerId}"` : 'server-ID header'} and the login carried none: set iamServerIdHeader (IAM_SERVER_ID_HEADER_VALUE)`;
  }
  if (/expected .* but got/i.test(m)) return `the server-ID header sent (${facts.serverIdSent ?? 'none'}) differs from auth/${facts.mount}/config/client iam_server_id_header_value (${facts.liveServerId ?? '?'}): make them the same`;
  if (/wasn't signed|not signed|signed headers/i.test(m)) return 'the server-ID header was sent outside the signature: it must be among the SigV4 signed headers';
  if (/does not belong to the role|not authorized|entity .* not found|principal/i.test(m) && /role|principal/i.test(m)) {
    return `Vault role ${facts.role} does not accept ${facts.callerArn}${facts.boundArns?.length ? `: it is bound to ${facts.boundArns.join(', ')}` : ''}`;
  }
  if (/entry for role .* not found|invalid role/i.test(m)) return `there is no Vault role ${facts.role} on auth/${facts.mount}: run step 09`;
  if (/no handler|unsupported path/i.test(m)) return `no aws auth method at auth/${facts.mount}: run step 05`;
  return m;
}
