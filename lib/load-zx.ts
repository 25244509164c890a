// zx, loaded when a command is first spawned, with redaction installed (lib/zx.ts).
// zx costs about as much to load as a whole step, and most steps never spawn
// anything: a static import would make every one of them pay for it.
import type { $ as Zx } from 'zx';

export async function loadZx(): Promise<typeof Zx> {
  const m = await import('./zx.js');
  m.installZxRedaction();
  return m.$;
}
