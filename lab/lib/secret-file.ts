// A secret the lab writes (issuer key, admin keys, a minted token with --out): owner-only.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Write via a temp file so readers never see half a secret, with owner-only mode. */
export function writeSecret(file: string, data: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, data, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
