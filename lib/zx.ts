// zx for the steps that spawn a command, loaded through loadZx() (lib/load-zx.ts).
//
// Two things are added to zx's $ here:
// - redaction: zx echoes commands and their output; that goes through redaction so a token
//   inside a command line never reaches the terminal (installZxRedaction, done by loadZx).
// - `$(options)` without AsyncLocalStorage: zx runs every `$(options)` call inside
//   AsyncLocalStorage.run(), and on Node 20 the first such call switches on promise hooks for
//   the rest of the process, so every later promise (the AWS SDK's, node-vault's) pays for
//   them: about 20 ms of a `make all`. A command copies its options when it is created
//   (zx's snapshot), so they are set on zx's defaults around that one synchronous call and
//   put back at once. Used as zx's own: `$({ quiet: true, env })\`kubectl ${args}\``.
// - no ~/.bashrc: zx runs a command as `bash -c '<command>'`, and bash reads the user's
//   ~/.bashrc even then when its stdin is a socket (Node's pipes are) and no SHLVL says a
//   shell started it: the runbook run from CI, cron, an IDE or `make bench`. A version
//   manager's rc costs each command a tenth of a second, and an rc that prints or changes
//   PATH would change what a command prints or which kubectl runs. The shell gets --norc,
//   as make's own recipes do (Makefile .SHELLFLAGS).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { $ as zx$, type Options, type ProcessPromise } from 'zx/core';
import { redact } from './redact.js';

/** Node's spawn, with --norc for the bash zx runs commands in (a shell command comes with no args). */
export function spawnNoRc(command: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  if (typeof opts.shell === 'string' && /(^|[\\/])bash$/.test(opts.shell) && args.length === 0) {
    return spawn(opts.shell, ['--norc', '-c', command], { ...opts, shell: false });
  }
  return spawn(command, args, opts);
}
zx$.spawn = spawnNoRc as typeof zx$.spawn;

type Template = (pieces: TemplateStringsArray, ...args: unknown[]) => ProcessPromise;

function withOptions(opts: Partial<Options>): Template {
  return (pieces, ...args) => {
    const defaults = zx$ as unknown as Record<string, unknown>;
    const saved = Object.keys(opts).map((k) => [k, defaults[k]] as const);
    Object.assign(zx$, opts);
    try {
      return zx$(pieces, ...args);
    } finally {
      for (const [k, v] of saved) defaults[k] = v;
    }
  };
}

/** zx's $, whose `$(options)` form sets the options for one command without AsyncLocalStorage. */
export const $ = new Proxy(zx$, {
  apply(target, self, argv: unknown[]) {
    const [first, ...rest] = argv;
    if (Array.isArray(first)) return Reflect.apply(target, self, argv);
    // $(options) -> a template function for one command
    if (first && typeof first === 'object') return withOptions(first as Partial<Options>);
    return Reflect.apply(target, self, [first, ...rest]);
  },
}) as typeof zx$;

let installed = false;

export function installZxRedaction(): void {
  if (installed) return;
  installed = true;
  const original = zx$.log;
  const wrapped = ((entry: Parameters<typeof original>[0]) => {
    if (entry.kind === 'cmd') return original({ ...entry, cmd: redact(entry.cmd) });
    if (entry.kind === 'stdout' || entry.kind === 'stderr') return original({ ...entry, data: Buffer.from(redact(entry.data.toString())) });
    return original(entry);
  }) as typeof original;
  zx$.log = wrapped;
}
