// zx, loaded when a command is first spawned, with redaction installed (lib/zx.ts).
// zx costs about as much to load as a whole step, and most steps never spawn
// anything: a static import would make every one of them pay for it. Only zx's core is
// loaded (`zx/core`: the same $, without the globby, fs-extra, yaml, fetch… that the
// full `zx` entry bundles): about 70 KB in dist/ instead of 530 KB.
import type { $ as Zx } from 'zx/core';

export async function loadZx(): Promise<typeof Zx> {
  const m = await import('./zx.js');
  m.installZxRedaction();
  return m.$;
}
