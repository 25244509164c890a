// zx echoes commands and their output; route that through redaction so a
// token inside a command line never reaches the terminal. Code that spawns gets
// zx through loadZx() (lib/load-zx.ts), which installs this first.
import { $ } from 'zx/core';
import { redact } from './redact.js';

export { $ };

let installed = false;

export function installZxRedaction(): void {
  if (installed) return;
  installed = true;
  const original = $.log;
  const wrapped = ((entry: Parameters<typeof original>[0]) => {
    if (entry.kind === 'cmd') return original({ ...entry, cmd: redact(entry.cmd) });
    if (entry.kind === 'stdout' || entry.kind === 'stderr') return original({ ...entry, data: Buffer.from(redact(entry.data.toString())) });
    return original(entry);
  }) as typeof original;
  $.log = wrapped;
}
