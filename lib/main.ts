import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this module is the script being run (not imported by `make all`). */
export function isMain(metaUrl: string): boolean {
  return Boolean(process.argv[1]) && path.resolve(process.argv[1]!) === fileURLToPath(metaUrl);
}
