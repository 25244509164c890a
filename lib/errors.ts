// Two kinds of failure, kept apart (as changesets does): an expected one is a
// RunbookError with an exit code and one sentence for the user; anything else
// is a bug in the runbook and is reported with its stack.

export const ExitCode = {
  ok: 0,
  config: 2, // a variable is missing or malformed
  prerequisite: 3, // an earlier step has not been run
  remote: 4, // AWS, Vault, kubectl or helm refused or did not answer
  confirmation: 5, // a destructive or drifted change needs --yes
  verification: 6, // the step ran but its result could not be proven
  locked: 7, // another run holds the lock for this cluster
  drift: 10, // a dry run (make plan) ran cleanly and found something it would change
  bug: 70,
} as const;

export type ExitCodeName = keyof typeof ExitCode;

export class RunbookError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Every problem found in the configuration, one sentence each. */
export class ConfigError extends RunbookError {
  readonly problems: string[];
  constructor(problems: string[] | string) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('\n'), ExitCode.config);
    this.problems = list;
  }
}

export class PrerequisiteError extends RunbookError {
  readonly step: string;
  constructor(message: string, step: string) {
    super(message, ExitCode.prerequisite);
    this.step = step;
  }
}

/** A service said no, or did not answer. `service` and `action` name the call. */
export class RemoteError extends RunbookError {
  readonly service: string;
  readonly action: string;
  readonly code: string | undefined;
  constructor(service: string, action: string, message: string, code?: string) {
    super(message, ExitCode.remote);
    this.service = service;
    this.action = action;
    this.code = code;
  }
}

export class ConfirmationError extends RunbookError {
  constructor(message: string) {
    super(message, ExitCode.confirmation);
  }
}

export class VerificationError extends RunbookError {
  constructor(message: string) {
    super(message, ExitCode.verification);
  }
}

export class LockError extends RunbookError {
  constructor(message: string) {
    super(message, ExitCode.locked);
  }
}

/** Pure: the text printed for a failure, without colour. */
export function formatError(err: unknown): { text: string; exitCode: number } {
  if (err instanceof RunbookError) {
    return { text: err.message.split('\n').map((l) => `error: ${l}`).join('\n'), exitCode: err.exitCode };
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    text: `internal error: this is a bug in vault-irsa-runbook, please report it with the output below.\n${stack}`,
    exitCode: ExitCode.bug,
  };
}
