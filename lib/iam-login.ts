// Vault's AWS IAM login, as Gloo (and the Vault Go client) sends it (GUIDE "The IAM
// login"): a SigV4-signed sts:GetCallerIdentity request whose signed headers
// include X-Vault-AWS-IAM-Server-ID, handed to Vault base64-encoded; Vault
// replays it against its sts_endpoint. The request builder is deterministic
// given a signing date, so tests can build the negative cases (header missing,
// wrong value, present but unsigned).
import { Vault } from './vault.js';
import { VerificationError } from './errors.js';
import { addSecret } from './redact.js';

export const SERVER_ID_HEADER = 'X-Vault-AWS-IAM-Server-ID';
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How the server-ID header is sent: signed (correct), left out, or added after signing. */
export type ServerIdMode = 'signed' | 'omitted' | 'unsigned';

export interface IamLoginInput {
  /** The Vault AWS auth role (lower case, as Vault stores it). */
  role: string;
  credentials: AwsCredentials;
  /** Region the request is signed for (Vault's sts_region). */
  region: string;
  /** The STS URL signed; Vault keeps its Host when it replays the request. */
  stsUrl: string;
  serverId?: string;
  serverIdMode?: ServerIdMode;
  signingDate?: Date;
}

/** The body of POST auth/<mount>/login. */
export interface IamLoginRequest {
  role: string;
  iam_http_request_method: 'POST';
  iam_request_url: string;
  iam_request_body: string;
  iam_request_headers: string;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** Pure (given signingDate): sign GetCallerIdentity and package it for Vault. */
export async function buildIamLoginRequest(i: IamLoginInput): Promise<IamLoginRequest> {
  addSecret(i.credentials.secretAccessKey);
  addSecret(i.credentials.sessionToken);
  const url = new URL(i.stsUrl);
  const path = url.pathname || '/';
  const mode = i.serverIdMode ?? (i.serverId ? 'signed' : 'omitted');
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  };
  if (mode === 'signed' && i.serverId !== undefined) headers[SERVER_ID_HEADER.toLowerCase()] = i.serverId;
  // The signer and its SHA-256 are loaded when a login is built, not with step 12's module.
  const [{ SignatureV4 }, { Sha256 }] = await Promise.all([import('@smithy/signature-v4'), import('@aws-crypto/sha256-js')]);
  const signer = new SignatureV4({ service: 'sts', region: i.region, sha256: Sha256, credentials: i.credentials, uriEscapePath: true });
  const signed = await signer.sign(
    { method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path, headers, body: GET_CALLER_IDENTITY_BODY },
    i.signingDate ? { signingDate: i.signingDate } : {},
  );
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[canonicalName(k)] = [String(v)];
  // The negative case Vault must reject: the header is there but not covered by the signature.
  if (mode === 'unsigned' && i.serverId !== undefined) out[SERVER_ID_HEADER] = [i.serverId];
  return {
    role: i.role,
    iam_http_request_method: 'POST',
    iam_request_url: b64(url.toString()),
    iam_request_body: b64(GET_CALLER_IDENTITY_BODY),
    iam_request_headers: b64(JSON.stringify(out)),
  };
}

/** `x-amz-date` -> `X-Amz-Date`, as Go's http.Header keeps names. */
function canonicalName(k: string): string {
  if (k.toLowerCase() === SERVER_ID_HEADER.toLowerCase()) return SERVER_ID_HEADER;
  return k.split('-').map((p) => (p ? p[0]!.toUpperCase() + p.slice(1).toLowerCase() : p)).join('-');
}

/** Pure: the login request decoded, for tests and for explaining a failure. */
export function decodeIamLoginRequest(r: IamLoginRequest): { url: string; body: string; headers: Record<string, string[]>; signedHeaders: string[] } {
  const d = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
  const headers = JSON.parse(d(r.iam_request_headers)) as Record<string, string[]>;
  const authz = headers.Authorization?.[0] ?? '';
  const signedHeaders = (/SignedHeaders=([^,\s]+)/.exec(authz)?.[1] ?? '').split(';').filter(Boolean);
  return { url: d(r.iam_request_url), body: d(r.iam_request_body), headers, signedHeaders };
}

export interface IamLoginResult {
  token: string;
  policies: string[];
  leaseDuration: number;
  /** What Vault resolved the caller to (auth metadata), when it says. */
  metadata: Record<string, string>;
}

/** POST auth/<mount>/login; the token is registered as a secret before anything else. */
export async function iamLogin(vaultAddr: string, mount: string, request: IamLoginRequest): Promise<IamLoginResult> {
  const vault = new Vault({ vaultAddr, vaultToken: undefined });
  const res = await vault.login(`auth/${mount}/login`, request as unknown as Record<string, unknown>);
  const auth = (res?.auth ?? undefined) as { client_token?: string; policies?: string[]; lease_duration?: number; metadata?: Record<string, string> } | undefined;
  if (!auth?.client_token) throw new VerificationError(`Vault answered auth/${mount}/login without a token`);
  addSecret(auth.client_token);
  return { token: auth.client_token, policies: auth.policies ?? [], leaseDuration: auth.lease_duration ?? 0, metadata: auth.metadata ?? {} };
}
