// The runnable scripts as bundled JavaScript in dist/ (git-ignored): what `make step-NN`,
// `make all`, `plan`, `verify`, `troubleshoot`, `teardown`, `reference` and lab/bin/* run.
// Plain JavaScript so that it runs without tsx. Run by `npm ci` (the `prepare` script) and
// by make whenever a source is newer than dist/.built (see the Makefile: BUILD_INPUTS).
//
// Why a bundle and not tsx: tsx compiles every TypeScript file at each start, and Node
// resolves and reads hundreds of files for zx, the AWS SDK and node-vault. One bundle per
// script, split into shared chunks, loads in a fraction of that; a dependency behind a
// dynamic `import()` becomes its own chunk, loaded only by the step that calls it.
//
// Two things differ in a bundle and are put back here, so the sources need not care:
// - `import.meta.url` is the chunk's URL; every source file gets its own source URL instead
//   (the lab finds the repository, its bin/ and its install recipe from it).
// - there is no runbook/ directory of .ts files to read: each entry registers the step
//   modules (lib/steps.ts) and says which source file is the script run (lib/main.ts isMain).
//
// `tsc --noEmit` stays the type checker: esbuild only strips types.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(root, 'dist');
const tmp = path.join(root, `dist.tmp-${process.pid}`);
const REGISTRY = 'vault-irsa-runbook.compiled';

const runbook = fs.readdirSync(path.join(root, 'runbook')).filter((f) => f.endsWith('.ts')).sort();
const steps = runbook.filter((f) => /^\d\d-[a-z0-9-]+\.ts$/.test(f));
// Every runbook script, and the lab's command line.
const scripts = [...runbook.map((f) => `runbook/${f}`), 'lab/lib/cli.ts'];
const outName = (src) => (src === 'lab/lib/cli.ts' ? 'lab/cli' : src.replace(/\.ts$/, ''));

// Every output file is one folder deep in dist/ (runbook/, lab/, chunks/): from any of them,
// ../../ is the repository, wherever it is checked out or moved to.
const srcUrl = (rel) => `new URL(${JSON.stringify(`../../${rel.split(path.sep).join('/')}`)}, import.meta.url).href`;
const registry = (script) =>
  [
    `globalThis[Symbol.for(${JSON.stringify(REGISTRY)})] = {`,
    `  main: ${srcUrl(script)},`,
    `  steps: {`,
    ...steps.map((f) => `    ${JSON.stringify(f)}: () => import(${JSON.stringify(`./runbook/${f}`)}),`),
    `  },`,
    `};`,
  ].join('\n');

const plugin = {
  name: 'vault-irsa-runbook',
  setup(b) {
    b.onResolve({ filter: /^entry:/ }, (a) => ({ path: a.path.slice('entry:'.length), namespace: 'entry' }));
    // The entry: the registry, then the script through import(), so that everything the
    // script loads runs after the registry is in place (static imports would run first).
    b.onLoad({ filter: /.*/, namespace: 'entry' }, (a) => ({
      contents: `${registry(a.path)}\nawait import(${JSON.stringify(`./${a.path}`)});\n`,
      resolveDir: root,
      loader: 'js',
    }));
    // Each source file keeps its own import.meta.url.
    b.onLoad({ filter: /\.ts$/ }, async (a) => {
      if (a.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await fs.promises.readFile(a.path, 'utf8');
      return { contents: text.replace(/\bimport\.meta\.url\b/g, `(${srcUrl(path.relative(root, a.path))})`), loader: 'ts' };
    });
  },
};

// The stamp make and lab/lib/node-run compare the sources with carries the time the build
// started: a source saved while it ran is newer, and the next run rebuilds.
const started = new Date();
fs.rmSync(tmp, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: scripts.map((s) => ({ in: `entry:${s}`, out: outName(s) })),
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ES module builds of the dependencies (the AWS SDK's dist-es): they tree-shake.
  mainFields: ['module', 'main'],
  // Docker mode bundles the lab's STS front for its container at lab-up (lab/lib/docker-lab.ts).
  external: ['esbuild'],
  chunkNames: 'chunks/[name]-[hash]',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: false,
  sourcemap: 'linked',
  legalComments: 'none',
  // CommonJS dependencies (node-vault's) call require() for Node's own modules.
  banner: { js: "import{createRequire as __virCreateRequire}from'node:module';const require=__virCreateRequire(import.meta.url);" },
  plugins: [plugin],
  metafile: true,
  logLevel: 'warning',
});

for (const file of Object.keys(result.metafile.outputs)) {
  if (path.relative(tmp, path.resolve(root, file)).split(path.sep).length !== 2) throw new Error(`build.mjs: ${file} is not one folder deep in dist/`);
}
fs.writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify(result.metafile));
const stamp = path.join(tmp, '.built');
fs.writeFileSync(stamp, 'built by build.mjs from lib/, runbook/, lab/lib/ and package-lock.json\n');
fs.utimesSync(stamp, started, started);
// Swap in whole: a reader sees the old build or the new one, never half of each.
const old = `${out}.old-${process.pid}`;
if (fs.existsSync(out)) fs.renameSync(out, old);
fs.renameSync(tmp, out);
fs.rmSync(old, { recursive: true, force: true });
