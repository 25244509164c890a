// Writing a cache file: whole or not at all, and never an error. A reader sees the old file or
// the new one (a temporary file renamed into place), never half of one; a read-only folder or
// a full disk only means there is no cache. For lib/code-cache.ts and lib/template-cache.ts.
import fs from 'node:fs';
import path from 'node:path';

/** true when `file` now holds `data`. */
export function writeCacheFile(file: string, data: string | Buffer): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
    return true;
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // its folder could not be made either: nothing was written
    }
    return false;
  }
}
