// IAM is eventually consistent: a role or policy created seconds ago can
// answer NoSuchEntity to the next call (an attach, a GetRole, Vault's own
// GetRole when it resolves a bound ARN). Such calls are retried with backoff
// for a bounded time, the wait is shown with its reason, and when the bound is
// spent one sentence names what did not appear.
import type { Config } from './config.js';
import { RemoteError } from './errors.js';
import { actionOf, isNotFound, send, type OutputOf } from './aws.js';
import * as log from './log.js';

export interface RetryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** How long something just created may take to become visible before the runbook gives up. */
export const EVENTUAL_BUDGET_MS = 30_000;

export const IAM_EVENTUAL_WHY = 'IAM is eventually consistent: what was created seconds ago can answer NoSuchEntity for a while';

/** Pure: the wait before attempt n+1 (0-based): 0.5 s doubling, at most 4 s. */
export function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 4000);
}

export interface EventualOptions {
  /** What must appear, named in the log line and the error: "IAM role X". */
  what: string;
  /** Why it may not be visible yet, for the log line. */
  why: string;
  /** The call that names the service and action in the error. */
  service: string;
  action: string;
  /** What to do when it never appears (the second half of the error sentence). */
  fix: string;
  /** Thrown errors that mean "not visible yet" (retried like an undefined answer). */
  transient?: (err: unknown) => boolean;
  budgetMs?: number;
  clock?: RetryClock;
  say?: (text: string) => void;
}

/**
 * Call `attempt` until it answers something other than undefined (undefined: not
 * visible yet), waiting with backoff for at most `budgetMs`. Errors that
 * `transient` accepts are waited out too; any other error is thrown at once.
 */
export async function untilVisible<T>(attempt: () => Promise<T | undefined>, o: EventualOptions): Promise<T> {
  const clock = o.clock ?? realClock;
  const budget = o.budgetMs ?? EVENTUAL_BUDGET_MS;
  const say = o.say ?? ((t: string) => log.line(t));
  const start = clock.now();
  let last = 'NoSuchEntity';
  for (let i = 0; ; i++) {
    try {
      const v = await attempt();
      if (v !== undefined) {
        if (i > 0) say(`      ${o.what} is visible after ${((clock.now() - start) / 1000).toFixed(1)} s`);
        return v;
      }
    } catch (err) {
      if (!o.transient?.(err)) throw err;
      last = ((err as Error).message ?? String(err)).split('\n')[0]!;
    }
    const elapsed = clock.now() - start;
    const wait = Math.min(backoffMs(i), budget - elapsed);
    if (wait <= 0) {
      throw new RemoteError(o.service, o.action, `${o.what} did not appear within ${Math.round(budget / 1000)} s (${last}): ${o.fix}`, 'NotVisible');
    }
    if (i === 0) say(`      waiting up to ${Math.round(budget / 1000)} s for ${o.what} to appear (${o.why})`);
    await clock.sleep(wait);
  }
}

/** Pure: Vault could not resolve a bound ARN because IAM does not show the role yet (not a denial). */
export function vaultArnNotYetVisible(err: unknown): boolean {
  const m = (err as Error | undefined)?.message ?? '';
  return /unable to resolve ARN/i.test(m) && /NoSuchEntity|cannot be found/i.test(m) && !/AccessDenied|not authorized/i.test(m);
}

const NOT_FOUND = ['NoSuchEntityException', 'NoSuchEntity'];

/** An IAM call on something created just before (a role, a policy): NoSuchEntity is waited out. */
export async function sendUntilFound<C extends object>(config: Config, client: Parameters<typeof send>[1], command: C, what: string, fix: string, opts: Pick<EventualOptions, 'budgetMs' | 'clock' | 'say'> = {}): Promise<OutputOf<C>> {
  return untilVisible(async () => {
    const res = await send(config, client, command, NOT_FOUND);
    return isNotFound(res) ? undefined : res;
  }, { what, why: IAM_EVENTUAL_WHY, service: 'iam', action: actionOf(command), fix, ...opts });
}
