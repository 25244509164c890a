// The doc test (issue 15): docs/RUNBOOK.md as a person uses it. The reference is
// generated for a fresh lab's configuration (runbook/reference.ts --env), its shell
// blocks are pasted in order into ONE bash session (stdin; no set -e/-u), the
// session stops at the first block whose status is not 0 and the test names that
// block. Then the runbook judges what the pasted commands made: the plan finds
// nothing to change (exit 0, not 10) and verify passes. So a change in what a step
// does that its reference() does not show fails here.
//
// The session knows only what a person in the lab would have before block 1: the
// lab's admin keys and the aws (v1, LAB_AWS_CLI=1) and vault (LAB_VAULT_CLI=1) CLIs on
// PATH. No AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL, CLUSTER_NAME or VAULT_ADDR:
// the reference sets them. The lab's Vault is not in a pod, so `kubectl exec -n <ns>
// vault-0 -- vault ...` runs the local vault CLI with the root token, as the CLI inside
// the dev-mode pod would. Blocks fenced ```sh cluster (helm, kubectl) run when the test
// env has LAB_K8S=1 or its running lab has the Kubernetes API (as in CI and `make test`;
// DOC_TEST_CLUSTER=1 forces it): each lab of this
// test then starts its own Kubernetes API too, the session gets its KUBECONFIG (as
// lab-env gives a lab user) and the lab's real kubectl and helm. vault-0 there is a kwok
// pod that runs no container, so `kubectl exec ... vault-0 -- vault` still runs the local
// CLI and `kubectl port-forward` to it is a no-op (VAULT_ADDR already reaches the lab's
// Vault); every other kubectl is the real one. Without LAB_K8S=1 they are skipped.
// run.ts lane: own (about 60 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { referenceBlocks } from '../../lib/reference.js';
import { labCacheDir } from '../../lab/lib/settings.js';
import { readLabConfig } from '../../lab/lib/lab.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vir-doc-test-'));
/** The main test env's lab has the Kubernetes API (`make test` starts it with LAB_K8S=1 but does not export it). */
function mainLabHasK8s(): boolean {
  try {
    return !!readLabConfig().k8s;
  } catch {
    return false;
  }
}
const runClusterBlocks = process.env.DOC_TEST_CLUSTER === '1' || process.env.LAB_K8S === '1' || process.env.LAB_K8S === 'true' || mainLabHasK8s();
const K8S_PORTS = { LAB_K8S_ETCD_PORT: '23379', LAB_K8S_ETCD_PEER_PORT: '23380', LAB_K8S_APISERVER_PORT: '23443', LAB_K8S_WEBHOOK_PORT: '23444', LAB_K8S_KWOK_PORT: '23445' };
const PORTS = { LAB_MOTO_PORT: '23466', LAB_VAULT_PORT: '23300', LAB_ISSUER_PORT: '23281', LAB_STS_PROXY_PORT: '23282', ...(runClusterBlocks ? K8S_PORTS : {}) };

interface Lab {
  name: string;
  /** What the lab's lab/bin/env exports, plus the configuration. */
  env: Record<string, string>;
  /** A person's shell before block 1. */
  session: Record<string, string>;
  work: string;
}

function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'LANG', 'TMPDIR', 'LAB_CACHE', 'GOPATH', 'GOCACHE', 'GOMODCACHE', 'GOFLAGS', 'GOPROXY', 'PIP_INDEX_URL', 'PIP_CACHE_DIR'];
  // The labs get a HOME of their own: without LAB_CACHE they would install every tool again
  // into it (the Kubernetes tools alone take minutes). The runner's lab cache is keyed by recipe.
  return { LAB_CACHE: labCacheDir(process.env), ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])) };
}

/** A fresh lab of its own (own LAB_DIR, ports, state), its env and a person's session env. */
function startLab(name: string, config: Record<string, string>): Lab {
  const dir = path.join(tmp, name);
  const work = path.join(dir, 'work');
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(path.join(dir, 'home'), { recursive: true });
  const labEnv = {
    ...baseEnv(),
    HOME: path.join(dir, 'home'),
    CI: 'true',
    NO_COLOR: '1',
    LAB_DIR: path.join(dir, 'lab'),
    LAB_STATE_DIR: path.join(dir, 'state'),
    LAB_VAULT_CLI: '1',
    LAB_AWS_CLI: '1',
    LAB_K8S: runClusterBlocks ? '1' : '0',
    ...PORTS,
    ...config,
  };
  const up = spawnSync(path.join(root, 'lab/bin/up'), { cwd: root, env: labEnv, encoding: 'utf8' });
  assert.is(up.status, 0, `lab/bin/up for ${name}: ${up.stdout}${up.stderr}`);
  const printed = spawnSync('sh', ['-c', 'lab_env="$(lab/bin/env)" && eval "$lab_env" && env -0'], { cwd: root, env: labEnv, encoding: 'utf8' });
  assert.is(printed.status, 0, printed.stderr);
  const all = Object.fromEntries(printed.stdout.split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const env = {
    ...all,
    ...config,
    STATE_FILE: path.join(dir, 'state', 'state.json'),
    GLOO_VALUES_FILE: config.GLOO_VALUES_FILE ?? path.join(work, '.state', `helm-overrides-${config.CLUSTER_NAME ?? 'gloo-ee-vault-integration'}.yaml`),
  };
  const session = {
    PATH: all.PATH!,
    HOME: labEnv.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    AWS_ACCESS_KEY_ID: all.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: all.AWS_SECRET_ACCESS_KEY!,
    // An admin's VAULT_TOKEN, left from the admin steps: verify must not lean on it.
    VAULT_TOKEN: all.VAULT_TOKEN!,
    DOC_TEST_VAULT_ROOT_TOKEN: all.VAULT_TOKEN!,
    // Which lab SA_TOKEN_COMMAND (lab/bin/sa-token) mints for: a lab user's shell has them.
    LAB_DIR: labEnv.LAB_DIR,
    ...PORTS,
    // The lab's cluster, as lab-env exports it for a lab user.
    ...(runClusterBlocks ? { KUBECONFIG: all.KUBECONFIG! } : {}),
  };
  if (runClusterBlocks) assert.ok(all.KUBECONFIG, `lab ${name} started with LAB_K8S=1 exports no KUBECONFIG`);
  return { name, env, session, work };
}

function stopLab(l: Lab): void {
  spawnSync(path.join(root, 'lab/bin/down'), { cwd: root, env: { ...baseEnv(), LAB_DIR: path.join(tmp, l.name, 'lab'), ...PORTS }, encoding: 'utf8' });
}

function tsx(l: Lab, args: string[], extra: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, scriptArgs(args[0]!, ...args.slice(1)), { cwd: root, env: { ...l.env, ...extra }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/**
 * `kubectl exec ... vault-0 -- vault ...` as the vault CLI in the dev-mode pod (root token).
 * With the cluster: `kubectl port-forward` is a no-op (vault-0 is a kwok pod serving nothing;
 * VAULT_ADDR already reaches the lab's Vault) and any other kubectl is the lab's real one.
 * Without: any other kubectl fails (no cluster).
 */
function prelude(cluster: boolean): string {
  return `kubectl() {
  if [ "$1" = exec ]; then
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
    shift
    VAULT_TOKEN="$DOC_TEST_VAULT_ROOT_TOKEN" "$@"
    return
  fi
${cluster
    ? `  if [ "$1" = port-forward ]; then return 0; fi
  command kubectl "$@"`
    : `  echo "kubectl $*: this lab has no Kubernetes API" >&2
  return 127`}
}
`;
}

interface Pasted {
  ok: boolean;
  failed?: number;
  ran: number[];
  skipped: number[];
  out: string;
  message: string;
}

/** Paste the markdown's shell blocks, in order, into one bash session. */
export function paste(markdown: string, cwd: string, env: Record<string, string>, cluster = runClusterBlocks): Pasted {
  const blocks = referenceBlocks(markdown);
  const skipped = blocks.filter((b) => /\bcluster\b/.test(b.info) && !cluster).map((b) => b.n);
  let script = prelude(cluster);
  for (const b of blocks) {
    if (skipped.includes(b.n)) continue;
    script += `echo "@@doc-block ${b.n} start"\n${b.text}\n__rc=$?; echo "@@doc-block ${b.n} rc=$__rc"; [ "$__rc" = 0 ] || exit 99\n`;
  }
  script += 'echo "@@doc-done"\n';
  const r = spawnSync('bash', [], { cwd, env, input: script, encoding: 'utf8', timeout: 120_000 });
  const out = `${r.stdout}${r.stderr}`;
  const ran = [...r.stdout.matchAll(/^@@doc-block (\d+) rc=0$/gm)].map((m) => Number(m[1]));
  const bad = /^@@doc-block (\d+) rc=(\d+)$/m.exec(r.stdout.split('\n').filter((l) => /rc=(?!0$)/.test(l)).join('\n'));
  const started = [...r.stdout.matchAll(/^@@doc-block (\d+) start$/gm)].map((m) => Number(m[1]));
  const done = r.stdout.includes('@@doc-done');
  const failed = bad ? Number(bad[1]) : done ? undefined : started.at(-1);
  const block = blocks.find((b) => b.n === failed);
  const message = failed === undefined
    ? 'every block passed'
    : `block ${failed} failed (${bad ? `exit ${bad[2]}` : `the session ended: ${r.signal ?? r.status}`}):\n${block?.text}\n--- session output ---\n${out.slice(-4000)}`;
  return { ok: failed === undefined && r.status === 0, failed, ran, skipped, out, message };
}

function pasteAndJudge(l: Lab): void {
  const gen = tsx(l, ['runbook/reference.ts', '--env']);
  assert.is(gen.status, 0, gen.out);
  const md = gen.out;
  fs.writeFileSync(path.join(tmp, l.name, 'RUNBOOK.md'), md);
  const pasted = paste(md, l.work, l.session);
  assert.ok(pasted.ok, pasted.message);
  assert.ok(pasted.ran.length >= 20, `ran ${pasted.ran.length} blocks`);
  const clusterBlocks = referenceBlocks(md).filter((b) => /\bcluster\b/.test(b.info)).map((b) => b.n);
  if (runClusterBlocks) {
    assert.ok(clusterBlocks.length >= 5, `the reference has ${clusterBlocks.length} cluster blocks`);
    assert.equal(pasted.skipped, [], 'no cluster block skipped');
    for (const n of clusterBlocks) assert.ok(pasted.ran.includes(n), `cluster block ${n} ran`);
  } else {
    assert.equal(pasted.skipped, clusterBlocks);
  }
  const plan = tsx(l, ['runbook/all.ts', '--dry-run']);
  assert.is(plan.status, 0, `make plan after the pasted reference must find nothing to change (exit 0; 10 is drift):\n${plan.out}`);
  const verify = tsx(l, ['runbook/12-verify.ts']);
  assert.is(verify.status, 0, `make verify after the pasted reference:\n${verify.out}`);
  // With the cluster, the pasted helm install made the gloo pods: verify's link 6 holds on them.
  if (runClusterBlocks) assert.match(verify.out, /all 6 links hold: .*the running gloo pod carries the role/);
  else assert.match(verify.out, 'all 5 links hold');
}

test('the reference for the lab, pasted block by block, sets everything up: plan finds nothing to change, verify passes', () => {
  const l = startLab('default', {});
  try {
    pasteAndJudge(l);
  } finally {
    stopLab(l);
  }
});

test('the same for a non-default configuration (cluster name, namespace, KV mount, auth mount)', () => {
  const l = startLab('custom', { CLUSTER_NAME: 'doc-test-cluster', NAMESPACE: 'edge', VAULT_KV_MOUNT: 'secrets-kv', VAULT_AUTH_MOUNT: 'aws-irsa' });
  try {
    pasteAndJudge(l);
  } finally {
    stopLab(l);
  }
});

test('a deliberately broken block fails the doc test with its number, and nothing after it runs', () => {
  const work = fs.mkdtempSync(path.join(tmp, 'broken-'));
  const md = fs.readFileSync(path.join(root, 'test/fixtures/broken-reference.md'), 'utf8');
  const env = { PATH: `${path.join(tmp, 'default', 'lab', 'bin')}:${process.env.PATH}`, HOME: work, DOC_TEST_AWS_ENDPOINT: `http://127.0.0.1:${PORTS.LAB_MOTO_PORT}` };
  // Its cluster block (kubectl get nodes) is skipped: both labs are down by now.
  const r = paste(md, work, env, false);
  assert.not.ok(r.ok);
  assert.is(r.failed, 3, r.message);
  assert.match(r.message, /^block 3 failed \(exit \d+\):\n# a typo/);
  assert.equal(r.skipped, [2]);
  assert.ok(!fs.existsSync(path.join(work, 'block-4-ran')), 'block 4 ran after the failure');
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
