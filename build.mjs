// The runnable scripts as bundled JavaScript in dist/ (git-ignored): what `make step-NN`,
// `make all`, `plan`, `verify`, `troubleshoot`, `teardown`, `reference` and lab/bin/* run.
// Plain JavaScript so that it runs without tsx. Run by `npm ci` (the `prepare` script) and
// by make whenever a source is newer than dist/.built (see the Makefile: BUILD_INPUTS).
//
// Why a bundle and not tsx: tsx compiles every TypeScript file at each start, and Node
// resolves and reads hundreds of files for zx, the AWS SDK and node-vault.
//
// Three bundles:
// - the runbook scripts (runbook/*.ts): ONE CommonJS file, dist/runbook/runbook.cjs, holding
//   every script; dist/runbook/<script>.js is a stub that runs its script from it through
//   V8's code cache (lib/code-cache.ts), so a process reads back compiled code instead of
//   compiling the AWS SDK and node-vault again. A dependency behind a dynamic `import()`
//   is still evaluated only when a step calls it. CommonJS because Node 20 can cache
//   compiled code only for vm.Script; so no runbook script uses top-level await.
// - the lab's command line (lab/lib/cli.ts): ES modules split into shared chunks, as it
//   resolves tsx and runs esbuild at lab-up.
// - lab/bin/sa-token (lab/lib/sa-token-main.ts): one small CommonJS file, dist/lab/sa-token.cjs,
//   as every `make verify` in the lab asks it for a token.
//
// Two things differ in a bundle and are put back here, so the sources need not care:
// - `import.meta.url` is the bundle's URL; every source file gets its own source URL instead
//   (the lab finds the repository, its bin/ and its install recipe from it).
// - there is no runbook/ directory of .ts files to read: the entry registers the step
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
const scripts = runbook.map((f) => `runbook/${f}`);

// Every output file is one folder deep in dist/ (runbook/, lab/, chunks/): from any of them,
// ../../ is the repository, wherever it is checked out or moved to.
const rel = (p) => `../../${p.split(path.sep).join('/')}`;
const esmUrl = (p) => `new URL(${JSON.stringify(rel(p))}, import.meta.url).href`;
const cjsUrl = (p) => `require("node:url").pathToFileURL(require("node:path").join(__dirname, ${JSON.stringify(rel(p))})).href`;
const stepImports = steps.map((f) => `    ${JSON.stringify(f)}: () => import(${JSON.stringify(`./runbook/${f}`)}),`);
const registryOf = (main) => [`globalThis[Symbol.for(${JSON.stringify(REGISTRY)})] = {`, `  main: ${main},`, `  steps: {`, ...stepImports, `  },`, `};`].join('\n');

// The runbook bundle's entry: run(script) registers the script and the steps, then imports
// the script, so that everything it loads runs after the registry is in place.
const runbookEntry = [
  `const scripts = {`,
  ...scripts.map((s) => `  ${JSON.stringify(s)}: () => import(${JSON.stringify(`./${s}`)}),`),
  `};`,
  `exports.run = (script) => {`,
  `  if (!scripts[script]) throw new Error(\`dist/runbook/runbook.cjs has no script \${script}: run make build\`);`,
  `  ${registryOf('require("node:url").pathToFileURL(require("node:path").join(__dirname, "../..", script)).href')}`,
  `  return scripts[script]();`,
  `};`,
].join('\n');
// The lab's entry: the registry, then the script through import().
const labEntry = `${registryOf(esmUrl('lab/lib/cli.ts'))}\nawait import("./lab/lib/cli.ts");\n`;

// Node 20 loses a vm.Script's dynamic import() callback when the script comes from the code
// cache ("A dynamic import callback was not specified"), so the runbook bundle may hold no
// import(). Those left after bundling are of Node's own modules (the AWS SDK's
// `await import("node:http")`): they become require(), with the namespace's \`default\`.
const builtinImport = /\bimport\((["'])(node:[a-z_/]+)\1\)/g;
const requireBuiltins = {
  name: 'require-builtins',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.(m?js|cjs)$/ }, async (a) => {
      const text = await fs.promises.readFile(a.path, 'utf8');
      if (!builtinImport.test(text)) return undefined;
      builtinImport.lastIndex = 0;
      return { contents: text.replace(builtinImport, (_, __, mod) => `Promise.resolve().then(() => { const m = require(${JSON.stringify(mod)}); return { ...m, default: m }; })`), loader: 'js', resolveDir: path.dirname(a.path) };
    });
  },
};

// Two things node-vault's HTTP client (axios) does at load that the runbook never uses, left
// out of the runbook bundle (both measured in the start-up profile):
// - axios touches the fetch API at load, which makes Node load its whole built-in undici
//   (30 ms): it probes fetch (`getFetch();`) and keeps the global FormData class. In Node
//   axios picks its http adapter first, and the probe runs again whenever the fetch adapter
//   would be chosen, so only the eager call goes; without the class, axios still knows a
//   FormData by its '[object FormData]' tag (the runbook sends none).
// - form-data's MIME table (mime-db, 140 KB) names the type of an uploaded file; the runbook
//   uploads none (a lookup answers "unknown" and form-data sends application/octet-stream).
// If a new axios no longer has those lines, the build says so and bundles it as it is.
const trimNodeVault = {
  name: 'trim-node-vault',
  setup(b) {
    b.onResolve({ filter: /^mime-db$/ }, () => ({ path: 'mime-db', namespace: 'trimmed' }));
    b.onLoad({ filter: /.*/, namespace: 'trimmed' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    b.onLoad({ filter: /[\\/]axios[\\/]dist[\\/]node[\\/]axios\.cjs$/ }, async (a) => {
      const text = await fs.promises.readFile(a.path, 'utf8');
      const eager = ['\ngetFetch();\n', "const FormDataCtor = typeof G.FormData !== 'undefined' ? G.FormData : undefined;"];
      if (eager.some((line) => text.split(line).length !== 2)) {
        return { contents: text, loader: 'js', warnings: [{ text: 'axios no longer touches fetch at load as expected: bundled unchanged (build.mjs trimNodeVault)' }] };
      }
      return { contents: text.replace(eager[0], '\n').replace(eager[1], 'const FormDataCtor = undefined;'), loader: 'js' };
    });
  },
};

const plugin = (url) => ({
  name: 'vault-irsa-runbook',
  setup(b) {
    b.onResolve({ filter: /^entry:/ }, (a) => ({ path: a.path.slice('entry:'.length), namespace: 'entry' }));
    b.onLoad({ filter: /.*/, namespace: 'entry' }, (a) => ({ contents: a.path === 'runbook' ? runbookEntry : labEntry, resolveDir: root, loader: 'js' }));
    // Each source file keeps its own import.meta.url.
    b.onLoad({ filter: /\.ts$/ }, async (a) => {
      if (a.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await fs.promises.readFile(a.path, 'utf8');
      return { contents: text.replace(/\bimport\.meta\.url\b/g, `(${url(path.relative(root, a.path))})`), loader: 'ts' };
    });
  },
});

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // ES module builds of the dependencies (the AWS SDK's dist-es): they tree-shake.
  mainFields: ['module', 'main'],
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: false,
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};

// The stamp make and lab/lib/node-run compare the sources with carries the time the build
// started: a source saved while it ran is newer, and the next run rebuilds.
const started = new Date();
fs.rmSync(tmp, { recursive: true, force: true });
const runbookBuild = await esbuild.build({
  ...common,
  entryPoints: [{ in: 'entry:runbook', out: 'runbook/runbook' }],
  outExtension: { '.js': '.cjs' },
  outdir: tmp,
  format: 'cjs',
  plugins: [plugin(cjsUrl), trimNodeVault, requireBuiltins],
});
// A small CommonJS file of its own (no source map): the loader, and sa-token's entry.
const cjsFile = (entry, out, plugins = []) =>
  esbuild.build({ ...common, sourcemap: false, entryPoints: [{ in: entry, out }], outExtension: { '.js': '.cjs' }, outdir: tmp, format: 'cjs', plugins });
// The loader (lib/code-cache.ts), and one stub per script: what make and the lab run.
const loaderBuild = await cjsFile('lib/code-cache.ts', 'runbook/load');
fs.writeFileSync(path.join(tmp, 'runbook', 'package.json'), '{ "type": "commonjs" }\n');
for (const s of scripts) {
  fs.writeFileSync(path.join(tmp, `${s.replace(/\.ts$/, '.js')}`), `// ${s}, from runbook.cjs through the code cache (lib/code-cache.ts).\nrequire('./load.cjs').run(__dirname, ${JSON.stringify(s)});\n`);
}
const labBuild = await esbuild.build({
  ...common,
  entryPoints: [{ in: 'entry:lab', out: 'lab/cli' }],
  outdir: tmp,
  splitting: true,
  format: 'esm',
  // Docker mode bundles the lab's STS front for its container at lab-up (lab/lib/docker-lab.ts).
  external: ['esbuild'],
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (node-vault's) call require() for Node's own modules.
  banner: { js: "import{createRequire as __virCreateRequire}from'node:module';const require=__virCreateRequire(import.meta.url);" },
  plugins: [plugin(esmUrl)],
});
// lab/bin/sa-token, which every step-12 run calls (SA_TOKEN_COMMAND in the lab): one
// small CommonJS file of its own, so a token costs Node's start and little more.
const saTokenBuild = await cjsFile('lab/lib/sa-token-main.ts', 'lab/sa-token', [plugin(cjsUrl)]);
const builds = [runbookBuild, loaderBuild, labBuild, saTokenBuild];
const result = { metafile: { inputs: Object.assign({}, ...builds.map((b) => b.metafile.inputs)), outputs: Object.assign({}, ...builds.map((b) => b.metafile.outputs)) } };

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
