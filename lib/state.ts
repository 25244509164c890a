// Outputs passed between steps (ARNs, issuer, account). Kept per AWS target
// and cluster so two clusters never mix; never holds a secret; 0600.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import type { Config } from './config.js';
import { ConfigError, LockError } from './errors.js';

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
  /** Resources the runbook created, so teardown removes nothing else. */
  created?: string[];
}
export type StateKey = Exclude<keyof StateValues, 'created'>;

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

  /** Remember a resource as created by the runbook (teardown deletes only these). */
  markCreated(id: string): void {
    const created = new Set(this.values().created ?? []);
    if (created.has(id)) return;
    created.add(id);
    this.set({ created: [...created].sort() });
  }

  forget(id: string): void {
    const created = (this.values().created ?? []).filter((c) => c !== id);
    this.set({ created });
  }

  wasCreated(id: string): boolean {
    return (this.values().created ?? []).includes(id);
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
