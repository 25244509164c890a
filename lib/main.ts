import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiled } from './compiled.js';

/** True when this module is the script being run (not imported by `make all`). */
export function isMain(metaUrl: string): boolean {
  // In a bundle (build.mjs) process.argv[1] is dist/…js: the entry says which source it runs.
  if (compiled) return compiled.main === metaUrl;
  return Boolean(process.argv[1]) && path.resolve(process.argv[1]!) === fileURLToPath(metaUrl);
}
