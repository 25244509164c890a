// The process lab's lifecycle: up, down, status, reset. Four servers on 127.0.0.1 —
// moto (AWS), the lab OIDC issuer, the STS proxy and a Vault dev server whose AWS
// identity comes from IRSA-style environment — started detached, recorded in
// LAB_DIR/pids, their logs in LAB_DIR/logs (0700: Vault's dev banner holds the token).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, symlinkSync, readlinkSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { install } from './install.js';
import { awsSetup, initKey, reuseRunningLab } from './aws-setup.js';
import { labRecordBase, readClusters, writeFreshLabRecord, SERVICES, K8S_SERVICES, type LabConfig } from './lab.js';
import { ownedPid, portTaken, startDetached, stopService, waitReady, isReady, readyWhere, type Ready } from './procs.js';
import { LabError, K8S_PORT_VARS, elapsed, type LabSettings } from './settings.js';
import { k8sServices, afterK8sStart, k8sPaths, type K8sBins, type K8sContext, type ServiceSpec } from './k8s.js';

type Log = (line: string) => void;

const tsxLoader = (): string => fileURLToPath(import.meta.resolve('tsx'));

function readyOf(s: (typeof SERVICES)[number], ports: LabConfig['ports']): Ready {
  switch (s) {
    case 'moto':
      return { url: `http://127.0.0.1:${ports.moto}/moto-api/data.json` };
    case 'issuer':
      return { url: `http://127.0.0.1:${ports.issuer}/keys` };
    case 'sts-proxy':
      return { url: `http://127.0.0.1:${ports.stsProxy}/healthz` };
    case 'vault':
      return { url: `http://127.0.0.1:${ports.vault}/v1/sys/health` };
  }
}

function k8sContext(st: Pick<LabSettings, 'root' | 'dir'>, cfg: LabConfig): K8sContext {
  const k = cfg.k8s!;
  const issuer = readClusters(st.dir)[k.cluster];
  if (!issuer) throw new LabError(`the lab has no cluster ${k.cluster} for its Kubernetes API: run \`make lab-reset\``);
  return { root: st.root, dir: st.dir, bins: k.bins as unknown as K8sBins, ports: k.ports, issuer, region: cfg.region };
}

function readConfigIfAny(dir: string): LabConfig | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabConfig;
  } catch {
    return undefined;
  }
}

/** The dev root token of HashiCorp's chart (step 04 sets no other): the kind lab's VAULT_TOKEN. */
export const KIND_DEV_ROOT_TOKEN = 'root';

export function redactToken(dir: string, text: string): string {
  try {
    const tok = readFileSync(join(dir, 'secrets', 'root-token'), 'utf8').trim();
    // Docker mode's kind lab uses the chart's public dev token "root": not a secret, and too common a word to cut out.
    return tok && tok !== KIND_DEV_ROOT_TOKEN ? text.split(tok).join('<redacted>') : text;
  } catch {
    return text;
  }
}

/** A lab-only CA and a certificate for the STS host names of `region` (see lab/lib/servers.ts). */
export function stsCertificates(dir: string, region: string): void {
  const marker = join(dir, 'sts-cert.region');
  if (existsSync(join(dir, 'sts-cert.pem')) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === region) return;
  const s = (f: string) => join(dir, 'secrets', f);
  const ssl = (args: string[]) => {
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      throw new LabError(`openssl ${args[0]} failed while making the lab's STS certificate: is openssl installed? (${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]})`, { cause: e });
    }
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=vault-irsa-runbook lab CA', '-keyout', s('sts-ca-key.pem'), '-out', join(dir, 'sts-ca.pem')]);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=sts.amazonaws.com', '-keyout', s('sts-key.pem'), '-out', s('sts.csr')]);
  writeFileSync(s('sts.ext'), `subjectAltName=DNS:sts.amazonaws.com,DNS:sts.${region}.amazonaws.com\nextendedKeyUsage=serverAuth\n`, { mode: 0o600 });
  ssl(['x509', '-req', '-in', s('sts.csr'), '-CA', join(dir, 'sts-ca.pem'), '-CAkey', s('sts-ca-key.pem'), '-CAcreateserial', '-days', '30', '-extfile', s('sts.ext'), '-out', join(dir, 'sts-cert.pem')]);
  writeFileSync(marker, region + '\n');
}

/**
 * LAB_DIR/bin holds the CLIs the lab built (today: `vault`, with LAB_VAULT_CLI=1), so
 * `eval "$(lab/bin/env)"` can put them on PATH under their usual names.
 */
function linkTools(dir: string, tools: { vault?: string; aws?: string; kubectl?: string; helm?: string }, drop: string[] = []): void {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const name of drop) rmSync(join(bin, name), { force: true });
  for (const [name, target] of Object.entries(tools)) {
    const link = join(bin, name);
    // A later `up` without LAB_VAULT_CLI (LAB_K8S) keeps a CLI linked before; a dangling link goes.
    if (!target) {
      if (!existsSync(link)) rmSync(link, { force: true });
      continue;
    }
    if (target === link) continue;
    // Left as it is when it already points there, else replaced in one rename: a kubectl or
    // vault run at that moment (a second `up` that only adds a cluster) always finds the link.
    let now: string | undefined;
    try {
      now = readlinkSync(link);
    } catch {
      /* no link yet */
    }
    if (now === target) continue;
    const tmp = `${link}.${process.pid}.tmp`;
    rmSync(tmp, { force: true });
    symlinkSync(target, tmp);
    renameSync(tmp, link);
  }
}

/** Every service the lab may run, in start order. */
const ALL_SERVICES = [...SERVICES, ...K8S_SERVICES];

function aliveServices(dir: string, names: readonly string[] = ALL_SERVICES): string[] {
  return names.filter((s) => ownedPid(dir, s) !== undefined);
}

export async function up(st: LabSettings, log: Log): Promise<void> {
  const { pickMode, probeMode } = await import('./mode.js');
  const choice = pickMode(await probeMode(st.mode as 'process' | 'docker' | undefined));
  if (choice.mode === 'none') throw new LabError(choice.why);
  if (choice.mode === 'docker') return (await import('./docker-lab.js')).upDocker(st, log, choice.why);
  if (readConfigIfAny(st.dir)?.mode === 'docker' && (await import('./docker.js')).containerStates(st.dir).size > 0)
    throw new LabError(`a Docker-mode lab runs in ${st.dir}: stop it first with \`make lab-down\`, or set LAB_DIR for a second lab`);
  const tools = await install(st.root, st.cache, log, { vaultCli: st.vaultCli, awsCli: st.awsCli, k8s: st.k8s });
  const dir = st.dir;
  mkdirSync(join(dir, 'pids'), { recursive: true });
  mkdirSync(join(dir, 'tokens'), { recursive: true });
  mkdirSync(join(dir, 'clusters'), { recursive: true });
  // kubectl and helm belong to the Kubernetes part: linked while it is asked for or still runs.
  // Left behind by an earlier LAB_K8S lab, helm would send step 10's `helm template` check to
  // the chart repository on the network (lab-env points at the stand-in charts only with k8s).
  const k8sLinks = st.k8s || aliveServices(dir, K8S_SERVICES).length > 0;
  linkTools(dir, { vault: tools.vaultCli, aws: tools.awsCli, kubectl: tools.k8s?.kubectl, helm: tools.k8s?.helm }, k8sLinks ? [] : ['kubectl', 'helm']);
  for (const d of ['logs', 'secrets']) {
    mkdirSync(join(dir, d), { recursive: true, mode: 0o700 });
    chmodSync(join(dir, d), 0o700);
  }

  const wanted: readonly string[] = st.k8s ? ALL_SERVICES : SERVICES;
  const running = aliveServices(dir);
  // Without LAB_K8S a running lab is reused as it is, Kubernetes part or not.
  if (aliveServices(dir, wanted).length === wanted.length) {
    const cfg = readConfigIfAny(dir)!;
    log(`up: the lab is already running (${dir})`);
    await reuseRunningLab(dir, st, cfg.region, log);
    return;
  }
  if (running.length > 0) {
    log('up: the lab is half running; stopping what is left first');
    await down(st, log);
  }

  // A port held by something else would make a server die with a confusing log.
  for (const [name, p] of Object.entries(st.ports)) {
    if (await portTaken(p)) {
      const v = { moto: 'LAB_MOTO_PORT', vault: 'LAB_VAULT_PORT', issuer: 'LAB_ISSUER_PORT', stsProxy: 'LAB_STS_PROXY_PORT' }[name];
      throw new LabError(`port ${p} on 127.0.0.1 is already in use: stop what listens there, or set ${v} to move the lab's ${name}`);
    }
  }
  if (st.k8s)
    for (const [name, p] of Object.entries(st.k8sPorts) as [keyof typeof K8S_PORT_VARS, number][])
      if (await portTaken(p)) throw new LabError(`port ${p} on 127.0.0.1 is already in use: stop what listens there, or set ${K8S_PORT_VARS[name]} to move the lab's Kubernetes ${name} port`);

  const tUp = performance.now();
  log(`up: process mode (${choice.why})`);
  // Servers keep no state: a fresh start is a new lab for the cluster asked for now.
  const cfg: LabConfig = {
    ...labRecordBase(st, 'process'),
    vaultBin: tools.vault,
    ...(tools.k8s ? { k8s: { ports: st.k8sPorts, cluster: st.cluster, kubeconfig: join(dir, 'kubeconfig'), bins: { ...tools.k8s } } } : {}),
  };
  writeFreshLabRecord(dir, cfg);
  const roleArn = cfg.vaultServerRoleArn;
  // Kubernetes objects (Helm releases too) belong to the lab they were made in: its
  // Vault kept nothing, so neither does etcd. The lab's CA and admin token stay.
  rmSync(k8sPaths(dir).etcdData, { recursive: true, force: true });
  rmSync(join(dir, 'kubeconfig'), { force: true });

  const tokenFile = join(dir, 'secrets', 'root-token');
  if (!existsSync(tokenFile) || !readFileSync(tokenFile, 'utf8').trim()) writeFileSync(tokenFile, randomBytes(16).toString('hex') + '\n', { mode: 0o600 });
  stsCertificates(dir, st.region);
  initKey(dir);

  const start = async (name: string, command: string, args: string[], env: NodeJS.ProcessEnv, ready: Ready = readyOf(name as (typeof SERVICES)[number], st.ports), timeoutMs?: number) => {
    const pid = startDetached(dir, { name, command, args, env });
    const r = await waitReady(dir, name, ready, timeoutMs);
    if (!r.ok) {
      const tail = redactToken(dir, r.log);
      await down(st, () => undefined).catch(() => undefined);
      throw new LabError(`${name} did not become ready at ${readyWhere(ready)}; last lines of ${join(dir, 'logs', `${name}.log`)}:\n${tail}`);
    }
    log(`${name.padEnd(10)} ready in ${r.took} (pid ${pid}${typeof ready === 'function' ? '' : `, ${new URL(ready.url).host}`})`);
  };

  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG ?? 'C.UTF-8' };
  await start('moto', tools.motoServer, ['-H', '127.0.0.1', '-p', String(st.ports.moto)], { ...base, MOTO_ALLOW_NONEXISTENT_REGION: 'false' });
  await awsSetup(dir, st.cluster, log);

  const node = process.execPath;
  const servers = fileURLToPath(new URL('./servers.ts', import.meta.url));
  const nodeEnv = { ...base, LAB_DIR: dir, NODE_NO_WARNINGS: '1' };
  await start('issuer', node, ['--import', tsxLoader(), servers, 'issuer'], nodeEnv);
  await start('sts-proxy', node, ['--import', tsxLoader(), servers, 'sts-proxy'], nodeEnv);

  // Vault gets the environment EKS's pod-identity webhook gives a pod whose service
  // account is annotated with a role (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, regional
  // STS), plus the proxy and CA that carry its STS calls to moto. No AWS keys: its AWS
  // identity is whatever AssumeRoleWithWebIdentity on that role yields, resolved lazily,
  // so the role can be created later by the runbook (step 03).
  await start('vault', tools.vault, ['server', '-dev', `-dev-listen-address=127.0.0.1:${st.ports.vault}`, '-dev-no-store-token'], {
    ...base,
    AWS_ROLE_ARN: roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'tokens', 'vault-vault.jwt'),
    AWS_REGION: st.region,
    AWS_DEFAULT_REGION: st.region,
    AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CA_BUNDLE: join(dir, 'sts-ca.pem'),
    HTTPS_PROXY: `http://127.0.0.1:${st.ports.stsProxy}`,
    NO_PROXY: '127.0.0.1,localhost',
    VAULT_DEV_ROOT_TOKEN_ID: readFileSync(tokenFile, 'utf8').trim(),
  });

  if (cfg.k8s) {
    // The Kubernetes API (LAB_K8S=1): its service-account tokens are signed with the
    // lab issuer's key for the cluster asked for (aws-setup wrote its issuer above).
    const ctx = k8sContext(st, cfg);
    let specs: ServiceSpec[];
    try {
      specs = k8sServices(ctx);
    } catch (e) {
      await down(st, () => undefined).catch(() => undefined);
      throw new LabError(`the lab's Kubernetes API could not be prepared: ${(e as Error).message}`, { cause: e });
    }
    for (const s of specs) await start(s.name, s.command, s.args, { ...base, ...(s.env ?? {}) }, s.ready, 120_000);
    try {
      await afterK8sStart(ctx);
    } catch (e) {
      await down(st, () => undefined).catch(() => undefined);
      throw new LabError(`the lab's Kubernetes API started but could not be set up: ${(e as Error).message}`, { cause: e });
    }
    log(`up: Kubernetes API at https://127.0.0.1:${ctx.ports.apiserver} (service-account issuer ${ctx.issuer}); KUBECONFIG=${cfg.k8s.kubeconfig}`);
  }

  log(`up: lab ready in ${elapsed(tUp)} (${dir}); Vault is a DEV server: in memory, unsealed, no TLS`);
  log(`up: Vault's AWS identity: ${roleArn} via web identity (system:serviceaccount:vault:vault)`);
  log('up: load the environment with: eval "$(lab/bin/env)"');
}

export async function down(st: LabSettings, log: Log): Promise<number> {
  if (readConfigIfAny(st.dir)?.mode === 'docker') return (await import('./docker-lab.js')).downDocker(st, log);
  let stopped = 0;
  // Reverse start order: the Kubernetes part (if any) first, then Vault, moto last.
  for (const name of [...ALL_SERVICES].reverse()) {
    const r = await stopService(st.dir, name);
    if (r.result === 'stopped') {
      log(`down: stopped ${name} (pid ${r.pid})`);
      stopped++;
    } else if (r.result === 'not ours') log(`down: pid ${r.pid} is no longer ${name} (it runs: ${r.detail}); leaving it alone`);
  }
  if (stopped === 0) log('down: nothing was running');
  return stopped;
}

/** One line per service (the Kubernetes part too when the lab runs it); true when all answer. */
export async function status(st: LabSettings, log: Log): Promise<boolean> {
  const cfg = readConfigIfAny(st.dir);
  if (!cfg) throw new LabError('the lab is not running: run `make lab-up`');
  if (cfg.mode === 'docker') return (await import('./docker-lab.js')).statusDocker(st, cfg, log);
  const checks: [string, Ready][] = SERVICES.map((s) => [s, readyOf(s, cfg.ports)]);
  if (cfg.k8s) {
    let specs: ServiceSpec[] | undefined;
    try {
      specs = k8sServices(k8sContext(st, cfg));
    } catch {
      specs = undefined;
    }
    for (const name of K8S_SERVICES) checks.push([name, specs?.find((s) => s.name === name)?.ready ?? (async () => false)]);
  }
  let ok = 0;
  for (const [s, ready] of checks) {
    const pid = ownedPid(st.dir, s);
    let state = 'not running';
    if (pid !== undefined) {
      if (await isReady(ready)) {
        state = 'answers';
        ok++;
      } else state = 'not answering';
    }
    log(`${s.padEnd(Math.max(10, ...checks.map(([n]) => n.length)))} pid ${String(pid ?? '-').padEnd(8)} ${state.padEnd(28)} ${readyWhere(ready)}`);
  }
  return ok === checks.length;
}

export async function reset(st: LabSettings, log: Log): Promise<void> {
  // Without LAB_MODE, a reset keeps the mode of the lab it replaces.
  const mode = st.mode ?? readConfigIfAny(st.dir)?.mode;
  await down(st, log);
  // Guard the rm: LAB_DIR comes from the environment.
  if (existsSync(st.dir) && !existsSync(join(st.dir, 'lab.json')) && !existsSync(join(st.dir, 'pids')))
    throw new LabError(`${st.dir} does not look like a lab directory: not deleting it (check LAB_DIR)`);
  rmSync(st.dir, { recursive: true, force: true });
  rmSync(st.stateDir, { recursive: true, force: true });
  log(`reset: removed ${st.dir} and ${st.stateDir}`);
  await up({ ...st, mode }, log);
}
