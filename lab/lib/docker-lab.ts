// Docker mode (LAB_MODE=docker): the AWS emulator, the lab's STS front and Vault as
// containers on a Docker network of the lab's own, their ports published on the host's
// 127.0.0.1 only; the lab issuer stays a host process (it mints and refreshes the Vault
// server's projected token, which Vault's container reads from a bind mount, as a pod reads
// its projected volume).
//
//   moto       LAB_MOTO_IMAGE (motoserver/moto:5.2.5)       127.0.0.1:LAB_MOTO_PORT -> 5000
//              or, with LOCALSTACK_AUTH_TOKEN set, LAB_LOCALSTACK_IMAGE
//              (localstack/localstack-pro, settings.ts)     127.0.0.1:LAB_MOTO_PORT -> 4566
//              (the token reaches it through a value-less `docker run -e`: never in argv)
//   sts-proxy  LAB_NODE_IMAGE (node:20.20.2-alpine) running  127.0.0.1:LAB_STS_PROXY_PORT -> 8182
//              lab/lib/servers.ts bundled into LAB_DIR/docker
//   vault      LAB_VAULT_IMAGE (hashicorp/vault:1.21.4)      127.0.0.1:LAB_VAULT_PORT -> 8200
//
// With LAB_K8S=1 there is no Vault container: lab/lib/kind.ts makes a kind cluster and
// runs the lab's IRSA webhook as a fourth container (LAB_NODE_IMAGE, no published port),
// and step 04 installs Vault from HashiCorp's chart in the cluster.
//
// IRSA works as in process mode: Vault's container has AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, and HTTPS_PROXY=http://sts-proxy:8182 with the lab CA,
// so its web-identity call (aws-sdk-go v1: always https://sts.<region>.amazonaws.com)
// reaches moto through the front; VAULT_AWS_ENDPOINT_URL (step 08's iam_endpoint and
// sts_endpoint) is http://sts-proxy:8182, the name Vault resolves on the lab network.
//
// Every container and the network carry the label vault-irsa-runbook.lab=<hash of LAB_DIR>
// (lab/lib/docker.ts); down removes exactly those.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awsSetup, initKey, reuseRunningLab } from './aws-setup.js';
import { labRecordBase, readClusters, writeFreshLabRecord, SERVICES, STS_FRONT_IN_NETWORK, type LabConfig } from './lab.js';
import { ownedPid, portTaken, startDetached, stopService, waitReady, isReady } from './procs.js';
import { containerStates, docker, dockerEngine, dockerNames, dockerOk, dockerServicesFor, ensureImage, removeLabObjects, type DockerService } from './docker.js';
import { LabError, MOTO_VERSION, LOCALSTACK_VERSION, UPSTREAM_IMAGES, IMAGE_VARS, elapsed, type AwsEmulator, type LabImage, type LabSettings } from './settings.js';
import { KIND_DEV_ROOT_TOKEN, redactToken, stsCertificates } from './lifecycle.js';

type Log = (line: string) => void;

/** Ports inside the containers (the host side is the lab's port settings). */
export const INNER_PORTS = { moto: 5000, 'sts-proxy': 8182, vault: 8200, 'irsa-webhook': 8444 } as const;
const TOKEN_DIR_IN_VAULT = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const CA_IN_VAULT = '/etc/vault-irsa-runbook-lab/sts-ca.pem';

export interface DockerRecord {
  id: string;
  network: string;
  containers: Partial<Record<DockerService, string>>;
  /** moto: the AWS emulator's image (moto's or LocalStack's). */
  images: Record<'moto' | 'vault' | 'node', string>;
}

const tsxLoader = (): string => fileURLToPath(import.meta.resolve('tsx'));

/** The images to run: LAB_<NAME>_IMAGE, else LAB_IMAGES=local (built here if missing), else the pinned upstream ones. */
async function chooseImages(st: LabSettings, log: Log): Promise<Record<'moto' | 'vault' | 'node', string>> {
  // LocalStack takes moto's slot; it is never built locally (its Pro image is LocalStack's own).
  const names: LabImage[] = st.awsEmulator === 'localstack' ? ['vault', 'node'] : ['moto', 'vault', 'node'];
  const out = {} as Record<LabImage, string>;
  let local: Record<string, string> = {};
  if (st.images === 'local' && names.some((n) => !st.imageOverrides[n])) {
    const { buildImages } = await import('./images.js');
    const need = names.filter((n) => !st.imageOverrides[n]) as ('moto' | 'vault' | 'node')[];
    local = Object.fromEntries((await buildImages(st.root, st.cache, (l) => log(`up: ${l}`), need)).map((b) => [b.name, b.tag]));
  }
  for (const n of names) out[n] = st.imageOverrides[n] ?? local[n] ?? UPSTREAM_IMAGES[n];
  if (st.awsEmulator === 'localstack') out.moto = st.imageOverrides.localstack ?? UPSTREAM_IMAGES.localstack;
  return out;
}

/** A lab server (lab/lib/servers.ts, lab/lib/irsa-webhook.ts) as one JavaScript file for the Node container. */
async function bundleLabServer(dir: string, entry: 'servers.ts' | 'irsa-webhook.ts', name: string): Promise<string> {
  const out = join(dir, 'docker', name);
  mkdirSync(join(dir, 'docker'), { recursive: true });
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new LabError('esbuild (a development dependency) is missing, and Docker mode needs it to bundle the lab\'s servers for the Node container: run `npm ci`');
  }
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL(`./${entry}`, import.meta.url))],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    mainFields: ['module', 'main'],
    // CommonJS dependencies call require(); split so build.mjs does not rewrite the text as this file's own URL.
    banner: { js: "import{createRequire as __virCreateRequire}from'node:module';const require=__virCreateRequire(import.meta" + '.url);' },
    logLevel: 'error',
  });
  return out;
}

async function containerLogTail(dir: string, name: string): Promise<string> {
  const r = await docker(['logs', '--tail', '25', name]);
  const text = redactToken(dir, `${r.stdout}${r.stderr}`.trimEnd());
  const ls = process.env.LOCALSTACK_AUTH_TOKEN;
  return ls ? text.split(ls).join('<redacted>') : text;
}

/** Wait until a container's service answers on its published port, or it stops, or 90 s pass. */
async function waitContainer(dir: string, svc: DockerService, url: string, timeoutMs = 90_000, label: string = svc): Promise<string> {
  const t0 = performance.now();
  const name = dockerNames(dir).container(svc);
  // Docker's port proxy accepts a connection before the service listens, and the probe's
  // fetch then waits on a socket and an unref'd abort timer only: keep the loop alive.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    while (performance.now() - t0 < timeoutMs) {
      if (await isReady({ url })) return elapsed(t0);
      if (containerStates(dir, [svc]).get(svc) !== 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    clearInterval(keepAlive);
  }
  const state = containerStates(dir, [svc]).get(svc) ?? 'gone';
  throw new LabError(`${label} (container ${name}, ${state}) did not answer at ${url}; its last log lines:\n${await containerLogTail(dir, name)}`);
}

export interface RunOpts {
  /** Host port on 127.0.0.1; the container port is `inner`, else INNER_PORTS[svc]. */
  publish: number;
  inner?: number;
  /** A value of undefined: a value-less -e, taken from the docker client's environment (secrets). */
  env?: Record<string, string | undefined>;
  mounts?: string[];
  extra?: string[];
  args?: string[];
  clientEnv?: NodeJS.ProcessEnv;
}

/** Pure: the `docker run -d` argv with the lab's name, label and network. */
export function containerRunArgs(dir: string, svc: DockerService, image: string, opts: RunOpts): string[] {
  const n = dockerNames(dir);
  return [
    'run', '-d',
    '--name', n.container(svc),
    '--label', n.label,
    '--network', n.network,
    '--network-alias', svc,
    '-p', `127.0.0.1:${opts.publish}:${opts.inner ?? INNER_PORTS[svc]}`,
    // A value-less -e takes the value from docker's own environment: no secret in argv.
    ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['-e', v === undefined ? k : `${k}=${v}`]),
    ...(opts.mounts ?? []).flatMap((m) => ['-v', m]),
    ...(opts.extra ?? []),
    image,
    ...(opts.args ?? []),
  ];
}

/** `docker run -d` (containerRunArgs); returns the container id. */
async function runContainer(dir: string, svc: DockerService, image: string, opts: RunOpts): Promise<string> {
  return dockerOk(containerRunArgs(dir, svc, image, opts), `starting the ${svc === 'moto' && opts.inner === LOCALSTACK_PORT ? 'LocalStack' : svc} container (${image})`, { env: opts.clientEnv });
}

/** LocalStack's one port (its gateway) inside the container. */
export const LOCALSTACK_PORT = 4566;

export interface AwsEmulatorPlan {
  emulator: AwsEmulator;
  /** For messages: "moto 5.2.5", "LocalStack 4.10.0". */
  name: string;
  /** The container port the lab's LAB_MOTO_PORT and the STS front reach. */
  inner: number;
  /** Path that answers once the emulator serves requests. */
  readyPath: string;
  /** The container's env: LOCALSTACK_AUTH_TOKEN without a value (docker takes it from its own environment). */
  env: Record<string, string | undefined>;
}

/** Pure: how the AWS emulator container runs (moto's image, or LocalStack's when LOCALSTACK_AUTH_TOKEN is set). */
export function awsEmulatorPlan(emulator: AwsEmulator): AwsEmulatorPlan {
  if (emulator === 'localstack')
    return { emulator, name: `LocalStack ${LOCALSTACK_VERSION}`, inner: LOCALSTACK_PORT, readyPath: '/_localstack/health', env: { LOCALSTACK_AUTH_TOKEN: undefined } };
  return { emulator, name: `moto ${MOTO_VERSION}`, inner: INNER_PORTS.moto, readyPath: '/moto-api/data.json', env: { MOTO_PORT: String(INNER_PORTS.moto), MOTO_ALLOW_NONEXISTENT_REGION: 'false' } };
}

/** The node binary of a Node image: the upstream image has it on PATH, the local one at /usr/local/bin/node. */
const nodeBin = (image: string): string => (image === UPSTREAM_IMAGES.node ? 'node' : '/usr/local/bin/node');

function readConfigIfAny(dir: string): LabConfig | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabConfig;
  } catch {
    return undefined;
  }
}

export async function upDocker(st: LabSettings, log: Log, why: string): Promise<void> {
  const dir = st.dir;
  // LAB_K8S=1: kind, kubectl and helm are checked before anything starts.
  const kind = st.k8s ? await import('./kind.js') : undefined;
  const missing = kind?.missingKindTools();
  if (missing) throw new LabError(missing);
  const engine = await dockerEngine();
  if (!engine.ok) throw new LabError(engine.why);
  const n = dockerNames(dir);

  // A process-mode lab in the same LAB_DIR would hold the ports and files.
  const procs = SERVICES.filter((s) => s !== 'issuer' && ownedPid(dir, s) !== undefined);
  if (procs.length) throw new LabError(`a process-mode lab runs in ${dir} (${procs.join(', ')}): stop it first with \`make lab-down\`, or set LAB_DIR for a second lab`);

  const old = readConfigIfAny(dir);
  const states = containerStates(dir);
  const wanted = dockerServicesFor(st.k8s);
  const running = wanted.filter((s) => states.get(s) === 'running');
  // Same shape as asked (kind or not, moto or LocalStack): reuse; otherwise start again.
  if (old?.mode === 'docker' && !!old.kind === st.k8s && (old.awsEmulator ?? 'moto') === st.awsEmulator && running.length === wanted.length && ownedPid(dir, 'issuer') !== undefined) {
    log(`up: the lab is already running in Docker (${dir}; network ${n.network})`);
    await reuseRunningLab(dir, st, old.region, log);
    return;
  }
  if (states.size > 0 || ownedPid(dir, 'issuer') !== undefined) {
    log(old?.mode === 'docker' && ((old.awsEmulator ?? 'moto') !== st.awsEmulator || !!old.kind !== st.k8s) ? `up: the running Docker lab was started ${old.kind ? 'with' : 'without'} kind and with ${old.awsEmulator ?? 'moto'}; removing it to start the one asked for` : 'up: the Docker lab is half running; removing what is left first');
    await downDocker(st, () => undefined);
  }

  const portVar = { moto: 'LAB_MOTO_PORT', vault: 'LAB_VAULT_PORT', issuer: 'LAB_ISSUER_PORT', stsProxy: 'LAB_STS_PROXY_PORT' } as const;
  for (const [name, p] of Object.entries(st.ports) as [keyof typeof portVar, number][])
    if (await portTaken(p)) throw new LabError(`port ${p} on 127.0.0.1 is already in use: stop what listens there, or set ${portVar[name]} to move the lab's ${name}`);

  const tUp = performance.now();
  const aws = awsEmulatorPlan(st.awsEmulator);
  log(`up: docker mode (${why}; Docker ${engine.version}): ${aws.emulator === 'localstack' ? 'LocalStack (LOCALSTACK_AUTH_TOKEN is set)' : 'moto'}, the STS front and ${st.k8s ? 'the IRSA webhook' : 'Vault'} as containers on network ${n.network}, ports on 127.0.0.1${st.k8s ? `; a kind cluster, where step 04 installs Vault` : ''}`);
  const images = await chooseImages(st, log);
  for (const k of ['moto', 'vault', 'node'] as const) {
    const v = k === 'moto' && aws.emulator === 'localstack' ? 'localstack' : k;
    if (k === 'vault' && st.k8s) continue; // kind: Vault is step 04's, from its chart
    await ensureImage(images[k], log, `set ${IMAGE_VARS[v]} to an image you have${process.platform === 'linux' && v !== 'localstack' ? ' (or LAB_IMAGES=local: lab/bin/images builds them from the process lab\'s tools)' : ''}`);
  }

  for (const d of ['pids', 'tokens', 'clusters', 'docker']) mkdirSync(join(dir, d), { recursive: true });
  for (const d of ['logs', 'secrets']) {
    mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
    chmodSync(join(dir, d), 0o700);
  }
  const record: DockerRecord = { id: n.id, network: n.network, containers: Object.fromEntries(wanted.map((s) => [s, n.container(s)])) as DockerRecord['containers'], images };
  const cfg: LabConfig & { docker: DockerRecord } = {
    ...labRecordBase(st, 'docker'),
    docker: record,
    ...(st.awsEmulator === 'localstack' ? { awsEmulator: 'localstack' as const } : {}),
    ...(st.k8s ? { kind: { cluster: n.kindCluster, kubeconfig: join(dir, 'kubeconfig') } } : {}),
  };
  // A fresh start is a new lab for the cluster asked for now (as in process mode).
  writeFreshLabRecord(dir, cfg, ['kubeconfig']);
  const roleArn = cfg.vaultServerRoleArn;
  const tokenFile = join(dir, 'secrets', 'root-token');
  // kind: Vault is step 04's, in dev mode with the chart's root token; otherwise the lab's own random one.
  if (st.k8s) writeFileSync(tokenFile, KIND_DEV_ROOT_TOKEN + '\n', { mode: 0o600 });
  else if (!existsSync(tokenFile) || !readFileSync(tokenFile, 'utf8').trim() || readFileSync(tokenFile, 'utf8').trim() === KIND_DEV_ROOT_TOKEN) writeFileSync(tokenFile, randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
  stsCertificates(dir, st.region);
  initKey(dir);

  const fail = async (e: unknown): Promise<never> => {
    await downDocker(st, () => undefined).catch(() => undefined);
    throw e instanceof LabError ? e : new LabError(`the Docker lab could not start: ${(e as Error).message}`, { cause: e });
  };
  try {
    await dockerOk(['network', 'create', '--label', n.label, n.network], `creating the lab's Docker network ${n.network}`);

    await runContainer(dir, 'moto', images.moto, { publish: st.ports.moto, inner: aws.inner, env: aws.env, clientEnv: process.env });
    log(`${aws.emulator.padEnd(10)} ready in ${await waitContainer(dir, 'moto', `http://127.0.0.1:${st.ports.moto}${aws.readyPath}`, aws.emulator === 'localstack' ? 180_000 : 90_000, aws.name)} (${aws.emulator === 'localstack' ? `${aws.name}, ` : ''}container ${record.containers.moto}, 127.0.0.1:${st.ports.moto})`);
    await awsSetup(dir, st.cluster, log);

    // The issuer: a host process, as in process mode (it writes tokens/vault-vault.jwt).
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8' };
    const servers = fileURLToPath(new URL('./servers.ts', import.meta.url));
    const pid = startDetached(dir, { name: 'issuer', command: process.execPath, args: ['--import', tsxLoader(), servers, 'issuer'], env: { ...base, LAB_DIR: dir, NODE_NO_WARNINGS: '1' } });
    const r = await waitReady(dir, 'issuer', { url: `http://127.0.0.1:${st.ports.issuer}/keys` });
    if (!r.ok) throw new LabError(`issuer did not become ready at http://127.0.0.1:${st.ports.issuer}/keys; last lines of ${join(dir, 'logs', 'issuer.log')}:\n${redactToken(dir, r.log)}`);
    log(`issuer     ready in ${r.took} (pid ${pid}, 127.0.0.1:${st.ports.issuer})`);

    const front = await bundleLabServer(dir, 'servers.ts', 'sts-front.mjs');
    await runContainer(dir, 'sts-proxy', images.node, {
      publish: st.ports.stsProxy,
      env: { LAB_DIR: dir, LAB_STS_UPSTREAM_HOST: 'moto', LAB_STS_UPSTREAM_PORT: String(aws.inner), LAB_LISTEN_HOST: '0.0.0.0', LAB_LISTEN_PORT: String(INNER_PORTS['sts-proxy']), NODE_NO_WARNINGS: '1' },
      // LAB_DIR at its own path, read-only: the front reads lab.json, its certificate and the lab-admin keys.
      mounts: [`${dir}:${dir}:ro`],
      extra: ['--entrypoint', nodeBin(images.node)],
      args: [front, 'sts-proxy'],
    });
    log(`sts-proxy  ready in ${await waitContainer(dir, 'sts-proxy', `http://127.0.0.1:${st.ports.stsProxy}/healthz`)} (container ${record.containers['sts-proxy']}, 127.0.0.1:${st.ports.stsProxy})`);

    if (kind) {
      // LAB_K8S=1: a kind cluster with the lab's IRSA webhook (lab/lib/kind.ts); Vault is step 04's.
      const issuer = readClusters(dir)[st.cluster]!;
      const webhookBundle = await bundleLabServer(dir, 'irsa-webhook.ts', 'irsa-webhook.mjs');
      await kind.kindUp({ root: st.root, dir, issuer, region: st.region, stsFront: STS_FRONT_IN_NETWORK, nodeImage: images.node, nodeBin: nodeBin(images.node), webhookBundle }, log);
    } else {
    // Vault gets what EKS's pod-identity webhook gives a pod whose service account is
    // annotated with a role, plus the proxy and CA that carry its STS calls to moto.
    await runContainer(dir, 'vault', images.vault, {
      publish: st.ports.vault,
      env: {
        AWS_ROLE_ARN: roleArn,
        AWS_WEB_IDENTITY_TOKEN_FILE: `${TOKEN_DIR_IN_VAULT}/vault-vault.jwt`,
        AWS_REGION: st.region,
        AWS_DEFAULT_REGION: st.region,
        AWS_STS_REGIONAL_ENDPOINTS: 'regional',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CA_BUNDLE: CA_IN_VAULT,
        HTTPS_PROXY: STS_FRONT_IN_NETWORK,
        NO_PROXY: '127.0.0.1,localhost',
        VAULT_DEV_ROOT_TOKEN_ID: undefined,
      },
      clientEnv: { ...process.env, VAULT_DEV_ROOT_TOKEN_ID: readFileSync(tokenFile, 'utf8').trim() },
      // The token folder, not the file: the issuer replaces the file by renaming (as kubelet does).
      mounts: [`${join(dir, 'tokens')}:${TOKEN_DIR_IN_VAULT}:ro`, `${join(dir, 'sts-ca.pem')}:${CA_IN_VAULT}:ro`],
      // The upstream image's entrypoint drops to the vault user, who could not read the 0600 token.
      extra: ['--entrypoint', 'vault', '--cap-add', 'IPC_LOCK'],
      args: ['server', '-dev', `-dev-listen-address=0.0.0.0:${INNER_PORTS.vault}`, '-dev-no-store-token'],
    });
    log(`vault      ready in ${await waitContainer(dir, 'vault', `http://127.0.0.1:${st.ports.vault}/v1/sys/health`)} (container ${record.containers.vault}, 127.0.0.1:${st.ports.vault})`);
    }
  } catch (e) {
    await fail(e);
  }

  if (st.k8s) {
    log(`up: lab ready in ${elapsed(tUp)} (${dir}); no Vault yet: step 04 installs it from HashiCorp's chart in dev mode (\`make lab\` runs it), its service account annotated with ${roleArn}`);
  } else {
    log(`up: lab ready in ${elapsed(tUp)} (${dir}); Vault is a DEV server: in memory, unsealed, no TLS`);
    log(`up: Vault's AWS identity: ${roleArn} via web identity (system:serviceaccount:vault:vault)`);
  }
  log('up: load the environment with: eval "$(lab/bin/env)"; `make lab-down` removes the containers and the network');
}

/** Stop the issuer and remove every container and network with this lab's label. */
export async function downDocker(st: Pick<LabSettings, 'dir'>, log: Log): Promise<number> {
  let n = 0;
  // The kind cluster first: its node is attached to the lab's network.
  if (readConfigIfAny(st.dir)?.kind) n += (await (await import('./kind.js')).kindDown(st.dir, log)).length;
  const r = await stopService(st.dir, 'issuer');
  if (r.result === 'stopped') {
    log(`down: stopped issuer (pid ${r.pid})`);
    n++;
  }
  const engine = await dockerEngine();
  if (!engine.ok) {
    log(`down: could not reach Docker to remove the lab's containers (${engine.why})`);
    throw new LabError(`the lab's containers could not be removed: ${engine.why}; then run \`make lab-down\` again`);
  }
  for (const name of await removeLabObjects(st.dir)) {
    log(`down: removed ${name}`);
    n++;
  }
  if (n === 0) log('down: nothing was running');
  return n;
}

/** One line per Docker-mode service; true when all answer. */
export async function statusDocker(st: LabSettings, cfg: LabConfig, log: Log): Promise<boolean> {
  const states = containerStates(st.dir);
  const n = dockerNames(st.dir);
  const rows: [string, string, string, string][] = [];
  let ok = 0;
  const issuerPid = ownedPid(st.dir, 'issuer');
  const url = (svc: string) =>
    ({ moto: `http://127.0.0.1:${cfg.ports.moto}${awsEmulatorPlan(cfg.awsEmulator ?? 'moto').readyPath}`, issuer: `http://127.0.0.1:${cfg.ports.issuer}/keys`, 'sts-proxy': `http://127.0.0.1:${cfg.ports.stsProxy}/healthz`, vault: `http://127.0.0.1:${cfg.ports.vault}/v1/sys/health`, 'irsa-webhook': `https://irsa-webhook:${INNER_PORTS['irsa-webhook']}/healthz (lab network only)` })[svc]!;
  const services = ['moto', 'issuer', 'sts-proxy', cfg.kind ? 'irsa-webhook' : 'vault'];
  for (const svc of services) {
    const proc = svc === 'issuer';
    const where = proc ? `pid ${issuerPid ?? '-'}` : `container ${n.container(svc)}`;
    const up = proc ? issuerPid !== undefined : states.get(svc) === 'running';
    let state = proc ? 'not running' : (states.get(svc) ?? 'no container');
    if (up && svc === 'irsa-webhook') {
      state = 'running'; // no published port: the kind node alone calls it
      ok++;
    } else if (up) {
      if (await isReady({ url: url(svc) })) {
        state = 'answers';
        ok++;
      } else state = 'not answering';
    }
    rows.push([svc === 'moto' && cfg.awsEmulator === 'localstack' ? 'localstack' : svc, where, state, url(svc)]);
  }
  if (cfg.kind) rows.push(['kind', `cluster ${cfg.kind.cluster}`, 'Vault: step 04', `KUBECONFIG=${cfg.kind.kubeconfig}`]);
  const w = Math.max(...rows.map(([, where]) => where.length));
  for (const [svc, where, state, u] of rows) log(`${svc.padEnd(12)} ${where.padEnd(w)}  ${state.padEnd(14)} ${u}`);
  return ok === services.length;
}
