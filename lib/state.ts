// Outputs passed between steps (ARNs, issuer, account). Kept per AWS target
// and cluster so two clusters never mix; never holds a secret; 0600.
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import type { Config } from './config.js';
import { ConfigError, LockError } from './errors.js';
import { byCodeUnit } from './order.js';

export interface StateValues {
  account?: string;
  partition?: string;
  issuer?: string;
  oidcProvider?: string;
  providerArn?: string;
  roleArn?: string;
  policyArn?: string;
  vaultServerRoleArn?: string;
  valuesFile?: string;
  /** Resources the runbook created, each with the step that owns it: teardown removes nothing else. */
  created?: (Created | string)[];
}
export type StateKey = Exclude<keyof StateValues, 'created'>;

/** A resource the runbook makes, by kind. */
export type Resource =
  | { kind: 'oidc-provider'; arn: string }
  | { kind: 'iam-role'; name: string }
  | { kind: 'iam-policy'; arn: string }
  | { kind: 'iam-inline-policy'; principal: 'role' | 'user'; name: string; policy: string }
  | { kind: 'helm-release'; namespace: string; release: string }
  | { kind: 'file'; path: string }
  | { kind: 'vault-auth'; mount: string }
  | { kind: 'vault-kv'; mount: string }
  | { kind: 'vault-policy'; name: string }
  | { kind: 'vault-client-config'; mount: string }
  | { kind: 'vault-role'; mount: string; role: string };

export type ResourceKind = Resource['kind'];
/** A record of the state file: the resource and the step that made it (and deletes it). */
export type Created = Resource & { step: string };

/** Pure: one line naming a resource, e.g. `iam-role:dev-role-iam-x` (also the old state format). */
export function resourceId(r: Resource): string {
  switch (r.kind) {
    case 'oidc-provider':
    case 'iam-policy':
      return `${r.kind}:${r.arn}`;
    case 'iam-role':
      return `${r.kind}:${r.name}`;
    case 'iam-inline-policy':
      return `${r.kind}:${r.principal}/${r.name}/${r.policy}`;
    case 'helm-release':
      return `${r.kind}:${r.namespace}/${r.release}`;
    case 'file':
      return `${r.kind}:${r.path}`;
    case 'vault-auth':
    case 'vault-kv':
    case 'vault-client-config':
      return `${r.kind}:${r.mount}`;
    case 'vault-policy':
      return `${r.kind}:${r.name}`;
    case 'vault-role':
      return `${r.kind}:${r.mount}/${r.role}`;
  }
}

/** Pure: a record of the state file's first form (`prefix:a/b` strings), typed, with the step that made it. */
export function legacyRecord(id: string, config: Pick<Config, 'vaultServerRoleName'>): Created | undefined {
  const i = id.indexOf(':');
  const kind = id.slice(0, i);
  const rest = id.slice(i + 1);
  const [a = '', b = '', c = ''] = rest.split('/');
  switch (kind) {
    case 'oidc-provider': return { step: '01', kind, arn: rest };
    case 'iam-role': return { step: rest === config.vaultServerRoleName ? '03' : '02', kind, name: rest };
    case 'iam-policy': return { step: '03', kind, arn: rest };
    case 'iam-inline-policy': return { step: '13', kind, principal: a === 'user' ? 'user' : 'role', name: b, policy: c };
    case 'helm-release': return { step: b === 'vault' ? '04' : '11', kind, namespace: a, release: b };
    case 'file': return { step: '10', kind, path: rest };
    case 'vault-auth': return { step: '05', kind, mount: rest };
    case 'vault-kv': return { step: '06', kind, mount: rest };
    case 'vault-policy': return { step: '07', kind, name: rest };
    case 'vault-role': return { step: '09', kind, mount: a, role: b };
    default: return undefined;
  }
}

const sameResource = (x: Resource, y: Resource): boolean => resourceId(x) === resourceId(y);

interface StateFile {
  version: 1;
  contexts: Record<string, { cluster: string; target: string; updatedAt: string; values: StateValues }>;
}

const SECRET_KEYS = /token|secret|password|session/i;

/** Pure: the key that keeps one AWS target + cluster apart from another. */
export function contextKey(config: Pick<Config, 'profile' | 'awsEndpoint' | 'region' | 'clusterName'>): string {
  const target = config.awsEndpoint ? `endpoint=${config.awsEndpoint}` : `profile=${config.profile ?? 'default'}`;
  return `${target}|${config.region}|${config.clusterName}`;
}

export class State {
  private data: StateFile;
  /** Dry-run and print keep changes in memory only. */
  readonly persist: boolean;
  readonly key: string;

  constructor(readonly file: string, readonly config: Config, persist: boolean) {
    this.persist = persist;
    this.key = contextKey(config);
    this.data = State.read(file);
  }

  private static read(file: string): StateFile {
    if (!fs.existsSync(file)) return { version: 1, contexts: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      throw new ConfigError(`the state file ${file} is not valid JSON: move it aside (the runbook recovers what it can from AWS) or set STATE_FILE`);
    }
    const p = parsed as Partial<StateFile>;
    if (p.version !== 1 || typeof p.contexts !== 'object' || p.contexts === null) {
      throw new ConfigError(`the state file ${file} is not a vault-irsa-runbook state file (version 1): move it aside or set STATE_FILE`);
    }
    return p as StateFile;
  }

  values(): StateValues {
    return this.data.contexts[this.key]?.values ?? {};
  }

  get<K extends StateKey>(key: K): StateValues[K] {
    return this.values()[key];
  }

  set(patch: Partial<StateValues>): void {
    for (const k of Object.keys(patch)) {
      if (SECRET_KEYS.test(k)) throw new Error(`refusing to store "${k}" in the state file: it looks like a secret`);
    }
    // A no-op run sets what is already there: no write (a write is a rename, which a busy
    // disk can make take longer than the whole run).
    const current = this.data.contexts[this.key]?.values as Record<string, unknown> | undefined;
    if (current && Object.entries(patch).every(([k, v]) => isDeepStrictEqual(current[k], v))) return;
    const ctx = (this.data.contexts[this.key] ??= {
      cluster: this.config.clusterName,
      target: this.key,
      updatedAt: new Date().toISOString(),
      values: {},
    });
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete (ctx.values as Record<string, unknown>)[k];
      else (ctx.values as Record<string, unknown>)[k] = v;
    }
    ctx.updatedAt = new Date().toISOString();
    this.save();
  }

  /** Every record, typed (records of the first, string form are read as such). */
  created(): Created[] {
    return (this.values().created ?? []).map((c) => (typeof c === 'string' ? legacyRecord(c, this.config) : c)).filter((c): c is Created => Boolean(c));
  }

  /** Remember a resource as created by `step` (teardown of that step deletes only these). */
  markCreated(step: string, r: Resource): void {
    const all = this.created();
    if (all.some((c) => sameResource(c, r))) return;
    this.set({ created: [...all, { ...r, step }].sort((a, b) => byCodeUnit(resourceId(a), resourceId(b))) });
  }

  forget(r: Resource): void {
    this.set({ created: this.created().filter((c) => !sameResource(c, r)) });
  }

  wasCreated(r: Resource): boolean {
    return this.created().some((c) => sameResource(c, r));
  }

  /** The records a step owns, of one kind. */
  createdBy<K extends ResourceKind>(step: string, kind: K): Extract<Created, { kind: K }>[] {
    return this.created().filter((c): c is Extract<Created, { kind: K }> => c.step === step && c.kind === kind);
  }

  private save(): void {
    if (!this.persist) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.data, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    fs.chmodSync(this.file, 0o600);
  }
}

/**
 * One run at a time per cluster: a lock file holding the pid. A lock whose
 * process is gone is stale and taken over.
 */
export function acquireLock(key: string, dir = defaultLockDir()): () => void {
  // Locks live in one place per machine, not beside the state file, so two runs
  // against the same cluster exclude each other even with different STATE_FILEs.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `lock-${crypto.createHash('sha256').update(key).digest('hex').slice(0, 12)}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
      // A crash still frees the lock; a normal release removes this listener.
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new LockError(`another run (pid ${pid}) is working on cluster ${key.split('|').pop()}: wait for it to finish, or remove ${file} if that process is not the runbook`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new LockError(`could not take the lock for ${key}: remove ${file} and run again`);
}

export function defaultLockDir(): string {
  return process.env.VAULT_IRSA_LOCK_DIR ?? path.join(os.tmpdir(), `vault-irsa-runbook-locks-${process.getuid?.() ?? 'user'}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
