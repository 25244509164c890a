// Pure builders of the IAM documents. Built as data and serialised, never
// written as text: the guide's hand-written JSON was invalid (GUIDE §03).

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export const STS_AUDIENCE = 'sts.amazonaws.com';

export function oidcProviderArn(partition: string, account: string, oidcProvider: string): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${oidcProvider}`;
}

export function roleArn(partition: string, account: string, name: string): string {
  return `arn:${partition}:iam::${account}:role/${name}`;
}

export function policyArn(partition: string, account: string, name: string): string {
  return `arn:${partition}:iam::${account}:policy/${name}`;
}

/** The issuer without its scheme: what IAM calls the provider and uses in condition keys. */
export function oidcProviderOf(issuer: string): string {
  return issuer.replace(/^https:\/\//, '').replace(/\/$/, '');
}

/** IRSA trust policy as AWS documents it: StringEquals on aud and sub (GUIDE §02 Fix). */
/** The trust of the Gloo role (step 02): the gloo and discovery service accounts. */
export function glooTrust(config: { namespace: string; serviceAccounts: string[] }, providerArn: string, oidcProvider: string): PolicyDocument {
  return trustPolicy({ providerArn, oidcProvider, namespace: config.namespace, serviceAccounts: config.serviceAccounts });
}

/** The trust of the Vault server's own IRSA role (step 03). */
export function vaultServerTrust(config: { vaultK8sNamespace: string; vaultServiceAccount: string }, providerArn: string, oidcProvider: string): PolicyDocument {
  return trustPolicy({ providerArn, oidcProvider, namespace: config.vaultK8sNamespace, serviceAccounts: [config.vaultServiceAccount] });
}

export function trustPolicy(args: { providerArn: string; oidcProvider: string; namespace: string; serviceAccounts: string[] }): PolicyDocument {
  const subs = args.serviceAccounts.map((sa) => `system:serviceaccount:${args.namespace}:${sa}`);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: args.providerArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${args.oidcProvider}:aud`]: STS_AUDIENCE,
            [`${args.oidcProvider}:sub`]: subs.length === 1 ? subs[0]! : subs,
          },
        },
      },
    ],
  };
}

/** The guide's "lighter version of Vault's recommended policy" (GUIDE §03). */
export function vaultAuthPolicy(roleArnValue: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['ec2:DescribeInstances', 'iam:GetInstanceProfile', 'iam:GetUser', 'iam:GetRole'],
        Resource: '*',
      },
      { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: [roleArnValue] },
    ],
  };
}

/** What the Vault server itself needs to resolve bound_iam_principal_arn (GUIDE §03 Fix). */
export function vaultServerPolicy(): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['iam:GetRole', 'iam:GetUser'], Resource: '*' }],
  };
}

/** The guide's manual fix for the implicit deny: iam:GetRole on exactly the bound role. */
export function getRoleFixPolicy(boundRoleArn: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iam:GetRole', Resource: boundRoleArn }],
  };
}

/** Pure: canonical form, so semantically equal documents compare equal (order of keys, single-item arrays). */
export function normalizeDocument(doc: unknown): unknown {
  if (Array.isArray(doc)) {
    const items = doc.map(normalizeDocument);
    if (items.every((i) => typeof i === 'string')) return items.length === 1 ? items[0] : [...(items as string[])].sort();
    return items;
  }
  if (doc && typeof doc === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(doc).sort()) out[k] = normalizeDocument((doc as Record<string, unknown>)[k]);
    return out;
  }
  return doc;
}

/** IAM returns documents URL-encoded; accept either. */
export function parsePolicyDocument(text: string): unknown {
  const decoded = text.trim().startsWith('%7B') || text.includes('%22') ? decodeURIComponent(text) : text;
  return JSON.parse(decoded);
}

export function sameDocument(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalizeDocument(a)) === JSON.stringify(normalizeDocument(b));
}

export function serialize(doc: PolicyDocument): string {
  return JSON.stringify(doc, null, 2);
}
