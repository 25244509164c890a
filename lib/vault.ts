// Vault's HTTP API through node-vault, the same code for a Vault in the
// cluster (through a port-forward) and for the lab's. Reads return undefined
// on 404; every request is recorded; failures become one sentence. node-vault
// (and its HTTP stack: request, bluebird, mime-db…) is loaded at the first request,
// not with every step: print mode and steps that never talk to Vault skip it.
import type NodeVault from 'node-vault';
import type { Config } from './config.js';
import { recordCall } from './calls.js';
import { ConfigError, RemoteError, RunbookError } from './errors.js';
import { addSecret } from './redact.js';
import { ReadCache } from './read-cache.js';

type Json = Record<string, unknown>;

export interface MountEntry {
  type?: string;
  description?: string;
  options?: Record<string, string> | null;
}

interface VaultLikeError {
  message?: string;
  code?: string;
  cause?: { code?: string };
  response?: { statusCode?: number; body?: { errors?: string[] } };
}

/** Vault refused a request: `errors` keeps Vault's own lines (several, when AWS's answer is inside). */
export class VaultRequestError extends RemoteError {
  constructor(action: string, message: string, readonly errors: string[], code?: string) {
    super('vault', action, message, code);
  }
}

/** Pure: a Vault failure as a sentence naming the variable to fix. */
export function describeVaultError(method: string, path: string, err: unknown, addr: string): RunbookError {
  if (err instanceof RunbookError) return err;
  const e = (err ?? {}) as VaultLikeError;
  const net = e.code ?? e.cause?.code ?? /(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN)/.exec(e.message ?? '')?.[1];
  // fetch refuses some addresses (bad ports) with a bare "fetch failed": unreachable all the same.
  const unreachable = (net && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|ECONNABORTED|TimeoutError|UND_ERR/.test(net)) || (!e.response && /fetch failed|timeout|aborted|socket hang up/i.test(e.message ?? ''));
  if (unreachable) {
    return new RemoteError('vault', `${method} ${path}`, `Vault at VAULT_ADDR=${addr} does not answer (${net ?? (e.message ?? 'no answer').split('\n')[0]}): start it (lab: make lab-up) or set VAULT_ADDR to your Vault`, net);
  }
  const status = e.response?.statusCode;
  const detail = (e.response?.body?.errors ?? []).join('; ') || e.message || 'no detail';
  if (status === 403 && /permission denied|invalid token/i.test(detail)) {
    return new ConfigError(`Vault at ${addr} rejected VAULT_TOKEN (permission denied on ${method} ${path}): set VAULT_TOKEN to a valid token with rights to configure Vault (lab: eval "$(make -s lab-env)")`);
  }
  // Vault's multi-line errors carry the cause on later lines (e.g. AWS's status code): keep them on one line.
  const oneLine = detail.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return new VaultRequestError(`${method} ${path}`, `Vault ${method} ${path} failed${status ? ` (HTTP ${status})` : ''}: ${oneLine}`, e.response?.body?.errors ?? [detail], status ? String(status) : undefined);
}

export class Vault {
  private clientP: Promise<NodeVault.client> | undefined;
  private readonly token: string;
  /** Reads are kept until this client's next write (lib/read-cache.ts). */
  private readonly cache = new ReadCache();
  readonly addr: string;

  constructor(config: Pick<Config, 'vaultAddr' | 'vaultToken'>, token: string | undefined = config.vaultToken) {
    this.addr = config.vaultAddr;
    addSecret(token);
    this.token = token ?? '';
  }

  /** node-vault's client, made at the first request (a dynamic import). */
  private client(): Promise<NodeVault.client> {
    return (this.clientP ??= import('node-vault').then((m) => m.default({ endpoint: this.addr, token: this.token, requestOptions: { timeout: 10_000 } })));
  }

  private async call(method: string, path: string, fn: (client: NodeVault.client) => Promise<unknown>, mutating: boolean): Promise<Json | undefined> {
    const client = await this.client();
    recordCall({ service: 'vault', action: `${method} ${path}`, mutating });
    try {
      return ((await fn(client)) ?? undefined) as Json | undefined;
    } catch (err) {
      if ((err as VaultLikeError).response?.statusCode === 404) return undefined;
      throw describeVaultError(method, path, err, this.addr);
    }
  }

  /** GET; undefined when the path does not exist. */
  read(path: string): Promise<Json | undefined> {
    return this.cache.read(`GET ${path}`, () => this.call('GET', path, (c) => c.read(path), false));
  }

  list(path: string): Promise<Json | undefined> {
    return this.cache.read(`LIST ${path}`, () => this.call('LIST', path, (c) => c.list(path), false));
  }

  /** POST; `timeoutMs` for writes Vault answers only after calling AWS itself. */
  write(path: string, data: Json, timeoutMs?: number): Promise<Json | undefined> {
    return this.cache.write(() => this.call('POST', path, (c) => c.write(path, data, timeoutMs ? { timeout: timeoutMs } : {}), true));
  }

  delete(path: string): Promise<Json | undefined> {
    return this.cache.write(() => this.call('DELETE', path, (c) => c.delete(path), true));
  }

  /** The mount table entry at `<path>/` of sys/auth or sys/mounts. */
  async mountEntry(table: 'sys/auth' | 'sys/mounts', path: string): Promise<MountEntry | undefined> {
    const res = await this.read(table);
    const data = ((res?.data as Record<string, unknown> | undefined) ?? res ?? {}) as Record<string, MountEntry>;
    return data[`${path}/`];
  }

  /** The text of an ACL policy, undefined when there is none. */
  async policyText(name: string): Promise<string | undefined> {
    const res = await this.read(`sys/policies/acl/${name}`);
    return ((res?.data ?? res) as { policy?: string } | undefined)?.policy;
  }

  /** A login is a POST that changes nothing in configuration. */
  login(path: string, data: Json): Promise<Json | undefined> {
    return this.call('POST', path, (c) => c.write(path, data), false);
  }

  /** sys/health answers without a token; node-vault hands back its body whatever the status code. */
  health(): Promise<{ initialized: boolean; sealed: boolean; version?: string }> {
    return this.cache.read('GET sys/health', () => this.healthCall());
  }

  private async healthCall(): Promise<{ initialized: boolean; sealed: boolean; version?: string }> {
    const client = await this.client();
    recordCall({ service: 'vault', action: 'GET sys/health', mutating: false });
    let body: { initialized?: unknown; sealed?: boolean; version?: string } | undefined;
    try {
      body = (await client.health({ standbyok: true, requestOptions: { timeout: 5000 } })) as typeof body;
    } catch (err) {
      throw describeVaultError('GET', 'sys/health', err, this.addr);
    }
    // Something else answers there (another service on the port, a proxy's error page).
    if (typeof body?.initialized !== 'boolean') throw new RemoteError('vault', 'GET sys/health', `the server at VAULT_ADDR=${this.addr} is not Vault (sys/health answered without Vault's status): set VAULT_ADDR to your Vault`, 'NotVault');
    return { initialized: body.initialized, sealed: Boolean(body.sealed), ...(body.version ? { version: body.version } : {}) };
  }
}
