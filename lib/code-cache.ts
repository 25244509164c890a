// How a runbook script starts from dist/ (build.mjs): `node dist/runbook/05-enable-aws-auth.js`
// is a two-line stub that calls run() here, which loads the one CommonJS bundle of every
// runbook script (dist/runbook/runbook.cjs) through V8's code cache.
//
// Why: on Node 20 a process spends most of its start-up compiling JavaScript (the AWS SDK,
// node-vault, yaml, the steps): about half of a no-op `make step-02`. Node 20 has no compile
// cache for ES modules (module.enableCompileCache() is Node 22), but vm.Script takes V8's
// cached data: with it, compiling becomes reading back what an earlier run compiled.
//
// The cache is one file per script, dist/.code-cache/<script>.v8 (all of them of the same
// bundle): V8 reads back the whole file, and a single step needs far less compiled code than
// `make all` does. It is written when a run ends:
// - when there is none, or V8 rejected it (another Node or V8 flags, a rebuilt bundle);
// - when this run compiled clearly more than the run that wrote it (a PRINT=1 run compiles
//   no client; the next `make all` adds them), measured by V8's own bytecode statistics.
// It is only ever an optimisation: an unreadable, unwritable or corrupt cache means compiling
// as without one. Writes go to a temporary file renamed into place, so concurrent runs never
// read half a file. A rebuild replaces dist/ whole, and the cache with it.
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { writeCacheFile } from './cache-file.js';

/** The bundle's interface (build.mjs writes its entry). */
interface Bundle {
  run(script: string): Promise<unknown>;
}

export interface CacheFile {
  /** V8 bytecode in the process that wrote it: how much it had compiled. */
  bytecode: number;
  data: Buffer;
}

const HEADER = 8;

/** Pure: the file's bytes from a bytecode figure and V8's cached data. */
export function encodeCache(c: CacheFile): Buffer {
  const head = Buffer.alloc(HEADER);
  head.writeBigUInt64BE(BigInt(Math.max(0, Math.round(c.bytecode))));
  return Buffer.concat([head, c.data]);
}

/** Pure: undefined for anything that is not a cache file. */
export function decodeCache(buf: Buffer | undefined): CacheFile | undefined {
  if (!buf || buf.length <= HEADER) return undefined;
  return { bytecode: Number(buf.readBigUInt64BE(0)), data: buf.subarray(HEADER) };
}

/**
 * Pure: whether to write the cache at the end of a run. Once per bundle in the common case;
 * again when a run compiled 10% more than the one that wrote it, so the cache grows towards
 * what `make all` uses and then stays.
 */
export function shouldWrite(had: CacheFile | undefined, rejected: boolean, bytecodeNow: number): boolean {
  if (!had || rejected) return true;
  return bytecodeNow > had.bytecode * 1.1;
}

function bytecodeNow(): number {
  return v8.getHeapCodeStatistics().bytecode_and_metadata_size;
}

function readCache(file: string): CacheFile | undefined {
  try {
    return decodeCache(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

/** Best effort: a read-only dist/ or a full disk only means no cache. */
export function writeCache(file: string, c: CacheFile): boolean {
  return writeCacheFile(file, encodeCache(c));
}

/** Pure: dist/.code-cache/<name>.v8 beside the bundle's folder; name: the script run (runbook/all.ts -> all). */
export function cacheFileFor(bundle: string, script: string): string {
  return path.join(path.dirname(bundle), '..', '.code-cache', `${path.basename(script).replace(/\.[cm]?[jt]s$/, '')}.v8`);
}

/** Load a CommonJS bundle through the code cache kept for `script`, and return its exports. */
export function loadBundle(bundle: string, scriptName: string): unknown {
  const source = fs.readFileSync(bundle, 'utf8');
  const file = cacheFileFor(bundle, scriptName);
  const had = readCache(file);
  // The bundle still imports some of Node's own modules with import() (the AWS SDK's
  // node:http, for one): the main context's loader answers those.
  const script = new vm.Script(Module.wrap(source), {
    filename: bundle,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    ...(had ? { cachedData: had.data } : {}),
  });
  const rejected = Boolean(had && script.cachedDataRejected);
  process.once('exit', () => {
    const now = bytecodeNow();
    if (shouldWrite(had, rejected, now)) writeCache(file, { bytecode: now, data: script.createCachedData() });
  });
  const mod = { exports: {} as unknown, id: bundle, filename: bundle, loaded: false };
  const fn = script.runInThisContext() as (exports: unknown, require: NodeRequire, module: unknown, filename: string, dirname: string) => void;
  fn.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, path.dirname(bundle));
  mod.loaded = true;
  return mod.exports;
}

/** What dist/runbook/<script>.js calls: run one runbook script (its source path, e.g. runbook/all.ts). */
export function run(dir: string, script: string): Promise<unknown> {
  const bundle = path.join(dir, 'runbook.cjs');
  return (loadBundle(bundle, script) as Bundle).run(script);
}
