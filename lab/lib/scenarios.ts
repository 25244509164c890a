// Break-and-fix scenarios for workshops (docs/WORKSHOP.md). A scenario is data,
// one file per scenario in lab/scenarios/<name>.yaml (LAB_SCENARIOS_DIR adds a
// trainer's own folder): what participants are told (the symptom, as Gloo's
// operators would see it), hints in order, the answer, the verify link that must
// fail, whether `make troubleshoot` knows the cause, and the break itself as a
// list of actions in a small vocabulary:
//
//   - aws: { client: iam|sts|eks, command: <SDK command name without "Command">, input: {...},
//            ignore: [<error name>, ...] }
//       An AWS SDK v3 call with the lab-admin keys against the lab's moto. Input fields whose
//       name ends in "Document" may be written as YAML and are sent as JSON.
//   - vault: { method: GET|POST|PUT|DELETE|LIST, path: <API path without /v1/>, body: {...},
//              ignore: [<HTTP status>, ...] }
//       A Vault API request with the lab's root token (node-vault's generic request).
//   - moto-enforcement: on|off|vault
//       moto's IAM checks (lab/lib/lab.ts): on for every caller, off, or `vault`: only for
//       the Vault server's AWS calls (setVaultEnforcement), which is what AWS would check
//       in these scenarios. Every break starts with them off, so a scenario that wants
//       them says so (last, usually).
//
// ${NAME} anywhere in a scenario (keys too) is replaced from the runbook's configuration
// (lib/config.ts parseConfig) and the running lab (readLabEnv): see scenarioVars(). An
// unknown name is an error; $${NAME} stands for a literal ${NAME} (shell text in answers).
import { existsSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import NodeVault from 'node-vault';
import { parseConfig, vaultRoleName, type Config } from '../../lib/config.js';
import { readLabEnv, setMotoEnforcement, setVaultEnforcement, type LabEnv } from './lab.js';
import { LAB_ROOT, LabError, LabInputError } from './settings.js';

/** Bad input from the user or a scenario file (unknown name, malformed file, bad usage): exit 2. */
export class ScenarioInputError extends LabInputError {
  override name = 'ScenarioInputError';
}

export const VERIFY_LINKS: Record<number, string> = {
  1: 'web-identity token',
  2: 'trust policy (and OIDC provider)',
  3: 'sts:AssumeRoleWithWebIdentity',
  4: 'Vault login',
  5: 'KV write/read/delete as Gloo',
};

export type BreakAction =
  | { kind: 'aws'; client: 'iam' | 'sts' | 'eks'; command: string; input: Record<string, unknown>; ignore: string[] }
  | { kind: 'vault'; method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'LIST'; path: string; body?: Record<string, unknown>; ignore: number[] }
  | { kind: 'moto-enforcement'; on: boolean | 'vault' };

export interface Scenario {
  name: string;
  title: string;
  /** What participants are told: the symptom as Gloo's operators see it. */
  symptom: string;
  hints: string[];
  answer: { explanation: string; commands: string[] };
  /** The verify link (runbook/12-verify.ts) that must be the first to fail. */
  failsAtLink: number;
  /** The troubleshoot finding that names the cause, or undefined: troubleshoot must say it cannot explain it. */
  troubleshoot: string | undefined;
  /**
   * What repairs it in the lab: `make troubleshoot ARGS=--yes` on its own, or only the answer's
   * commands (troubleshoot cannot know the cause, or its fix is partial or impossible in the lab).
   */
  repair: 'troubleshoot' | 'answer';
  break: BreakAction[];
  file: string;
}

export const BUILTIN_SCENARIOS_DIR = join(LAB_ROOT, 'lab', 'scenarios');

/** lab/scenarios, then every folder in LAB_SCENARIOS_DIR (colon-separated); a later file of the same name wins. */
export function scenarioDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.LAB_SCENARIOS_DIR ?? '').split(':').filter(Boolean).map((d) => resolve(d));
  for (const d of extra) if (!existsSync(d)) throw new ScenarioInputError(`LAB_SCENARIOS_DIR names ${d}, which does not exist: create it or fix the variable`);
  return [BUILTIN_SCENARIOS_DIR, ...extra];
}

const where = (file: string): string => (file.startsWith(LAB_ROOT) ? relative(LAB_ROOT, file) : file);

// ---- parsing -------------------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Pure: a scenario from its YAML text; every problem is a ScenarioInputError naming the file. */
export function parseScenario(text: string, file: string): Scenario {
  const bad = (what: string): never => {
    throw new ScenarioInputError(`${where(file)} is malformed: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return bad(`not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObj(doc)) return bad('the file must be a YAML mapping with name, title, symptom, hints, answer, fails-at-link, troubleshoot and break');
  const allowed = new Set(['name', 'title', 'symptom', 'hints', 'answer', 'fails-at-link', 'troubleshoot', 'repair', 'break', 'source']);
  for (const k of Object.keys(doc)) if (!allowed.has(k)) bad(`unknown field "${k}" (allowed: ${[...allowed].join(', ')})`);
  const str = (v: unknown, what: string): string => (typeof v === 'string' && v.trim() ? v.trim() : bad(`${what} must be a non-empty string`));
  const name = str(doc.name, 'name');
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) bad(`name "${name}" must be lower-case letters, digits and -`);
  if (name !== stem) bad(`name "${name}" must match the file name (${stem})`);
  const title = str(doc.title, 'title');
  const symptom = str(doc.symptom, 'symptom');
  const hints = Array.isArray(doc.hints) && doc.hints.length ? doc.hints.map((h, i) => str(h, `hints[${i + 1}]`)) : bad('hints must be a non-empty list, in the order participants get them');
  if (!isObj(doc.answer)) bad('answer must be a mapping with explanation and commands');
  const answer = doc.answer as Obj;
  const commands = Array.isArray(answer.commands) && answer.commands.length ? answer.commands.map((c, i) => str(c, `answer.commands[${i + 1}]`)) : bad('answer.commands must be a non-empty list of shell commands');
  const link = doc['fails-at-link'];
  if (typeof link !== 'number' || !VERIFY_LINKS[link]) bad(`fails-at-link must be a verify link number, 1 to 5 (${Object.entries(VERIFY_LINKS).map(([n, l]) => `${n} ${l}`).join(', ')})`);
  const ts = str(doc.troubleshoot, 'troubleshoot (a finding id such as trust, or unknown)');
  if (!/^[a-z][a-z0-9-]*$/.test(ts)) bad(`troubleshoot "${ts}" must be a finding id (lower-case, e.g. trust) or unknown`);
  const repair = doc.repair ?? (ts === 'unknown' ? 'answer' : 'troubleshoot');
  if (repair !== 'troubleshoot' && repair !== 'answer') bad(`repair must be troubleshoot (make troubleshoot ARGS=--yes repairs it) or answer (only the answer's commands do)`);
  if (repair === 'troubleshoot' && ts === 'unknown') bad('repair: troubleshoot needs a troubleshoot finding: troubleshoot cannot repair what it does not know (use repair: answer)');
  if (!Array.isArray(doc.break) || !doc.break.length) bad('break must be a non-empty list of actions (aws:, vault: or moto-enforcement:)');
  const actions = (doc.break as unknown[]).map((a, i) => parseAction(a, `break[${i + 1}]`, bad));
  return {
    name,
    title,
    symptom,
    hints,
    answer: { explanation: str(answer.explanation, 'answer.explanation'), commands },
    failsAtLink: link as number,
    troubleshoot: ts === 'unknown' ? undefined : ts,
    repair: repair as 'troubleshoot' | 'answer',
    break: actions,
    file,
  };
}

function parseAction(a: unknown, at: string, bad: (what: string) => never): BreakAction {
  if (!isObj(a) || Object.keys(a).length !== 1) return bad(`${at} must have exactly one of aws:, vault: or moto-enforcement:`);
  const [kind, v] = Object.entries(a)[0]!;
  if (!['aws', 'vault', 'moto-enforcement'].includes(kind)) return bad(`${at}: unknown action "${kind}" (aws:, vault: or moto-enforcement:)`);
  if (kind === 'moto-enforcement') {
    // YAML 1.2 reads on/off as strings; true/false are accepted too.
    if (v === 'on' || v === true) return { kind, on: true };
    if (v === 'off' || v === false) return { kind, on: false };
    if (v === 'vault') return { kind, on: 'vault' };
    return bad(`${at}: moto-enforcement must be on, off or vault`);
  }
  if (!isObj(v)) return bad(`${at}: ${kind}: must be a mapping`);
  const ignoreList = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : bad(`${at}: ignore must be a list`));
  if (kind === 'aws') {
    for (const k of Object.keys(v)) if (!['client', 'command', 'input', 'ignore'].includes(k)) bad(`${at}: aws: has an unknown field "${k}" (client, command, input, ignore)`);
    if (v.client !== 'iam' && v.client !== 'sts' && v.client !== 'eks') bad(`${at}: aws.client must be iam, sts or eks`);
    if (typeof v.command !== 'string' || !/^[A-Z][A-Za-z0-9]+$/.test(v.command) || v.command.endsWith('Command')) bad(`${at}: aws.command must be an SDK command name such as UpdateAssumeRolePolicy`);
    if (v.input !== undefined && !isObj(v.input)) bad(`${at}: aws.input must be a mapping`);
    const ignore = ignoreList(v.ignore).map((x) => (typeof x === 'string' ? x : bad(`${at}: aws.ignore lists error names such as NoSuchEntityException`)));
    return { kind, client: v.client as 'iam' | 'sts' | 'eks', command: v.command as string, input: (v.input as Obj) ?? {}, ignore };
  }
  if (kind === 'vault') {
    for (const k of Object.keys(v)) if (!['method', 'path', 'body', 'ignore'].includes(k)) bad(`${at}: vault: has an unknown field "${k}" (method, path, body, ignore)`);
    const method = String(v.method ?? '').toUpperCase();
    if (!['GET', 'POST', 'PUT', 'DELETE', 'LIST'].includes(method)) bad(`${at}: vault.method must be GET, POST, PUT, DELETE or LIST`);
    if (typeof v.path !== 'string' || !v.path || /^\/|^v1\//.test(v.path)) bad(`${at}: vault.path must be an API path without /v1/, e.g. auth/aws/config/client`);
    if (v.body !== undefined && !isObj(v.body)) bad(`${at}: vault.body must be a mapping`);
    const ignore = ignoreList(v.ignore).map((x) => (typeof x === 'number' && Number.isInteger(x) ? x : bad(`${at}: vault.ignore lists HTTP status codes such as 404`)));
    return { kind, method: method as 'GET', path: v.path as string, ...(v.body ? { body: v.body as Obj } : {}), ignore };
  }
  return bad(`${at}: unknown action "${kind}" (aws:, vault: or moto-enforcement:)`);
}

/** Every scenario, by name (a trainer's folder wins over lab/scenarios). Malformed files are errors. */
export function loadScenarios(dirs: string[] = scenarioDirs()): Map<string, Scenario> {
  const out = new Map<string, Scenario>();
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
      const file = join(dir, f);
      const s = parseScenario(readFileSync(file, 'utf8'), file);
      out.set(s.name, s);
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

export function findScenario(name: string, dirs?: string[]): Scenario {
  const all = loadScenarios(dirs);
  const s = all.get(name);
  if (!s) throw new ScenarioInputError(`there is no scenario "${name}": \`make lab-break\` lists them (${[...all.keys()].join(', ')})`);
  return s;
}

// ---- variables -----------------------------------------------------------------

/** The runbook configuration for the lab: the user's settings win, the lab supplies endpoints and keys (as lab-env does). */
export function labRunbookConfig(lab: LabEnv, env: NodeJS.ProcessEnv = process.env): Config {
  const { config, problems } = parseConfig({
    ...env,
    AWS_ENDPOINT_URL: lab.awsEndpoint,
    AWS_REGION: env.AWS_REGION || lab.region,
    CLUSTER_NAME: env.CLUSTER_NAME || lab.vaultCluster,
    VAULT_ADDR: lab.vaultAddr,
    VAULT_AWS_ENDPOINT_URL: lab.stsProxyUrl,
  });
  if (problems.length) throw new ScenarioInputError(`the runbook configuration is not valid: ${problems.join('; ')}`);
  return config;
}

/** Pure: the ${NAME}s a scenario may use. No secrets among them. */
export function scenarioVars(config: Config, lab: Pick<LabEnv, 'accountId' | 'clusters' | 'vaultAddr' | 'stsProxyUrl' | 'awsEndpoint'>): Record<string, string> {
  const issuer = lab.clusters[config.clusterName];
  if (!issuer) throw new LabError(`the lab has no cluster ${config.clusterName}: run \`CLUSTER_NAME=${config.clusterName} make lab-up\``);
  const oidcProvider = issuer.replace(/^https:\/\//, '').replace(/\/$/, '');
  const arn = (kind: string, name: string) => `arn:${config.partition}:iam::${lab.accountId}:${kind}/${name}`;
  return {
    ACCOUNT_ID: lab.accountId,
    AWS_REGION: config.region,
    AWS_ENDPOINT_URL: lab.awsEndpoint,
    CLUSTER_NAME: config.clusterName,
    NAMESPACE: config.namespace,
    GLOO_SA: config.serviceAccounts[0]!,
    OIDC_ISSUER: issuer,
    OIDC_PROVIDER: oidcProvider,
    OIDC_PROVIDER_ARN: arn('oidc-provider', oidcProvider),
    VAULT_AUTH_ROLE_NAME: config.roleName,
    VAULT_AUTH_ROLE_ARN: arn('role', config.roleName),
    VAULT_AUTH_POLICY_NAME: config.policyName,
    VAULT_AUTH_POLICY_ARN: arn('policy', config.policyName),
    VAULT_SERVER_ROLE_NAME: config.vaultServerRoleName,
    VAULT_SERVER_ROLE_ARN: arn('role', config.vaultServerRoleName),
    VAULT_SERVER_POLICY_NAME: config.vaultServerPolicyName,
    VAULT_ROLE: vaultRoleName(config),
    VAULT_AUTH_MOUNT: config.authMount,
    VAULT_KV_MOUNT: config.kvMount,
    VAULT_POLICY_NAME: config.vaultPolicyName,
    GLOO_ROOT_KEY: config.rootKey,
    IAM_SERVER_ID_HEADER_VALUE: config.iamServerIdHeader,
    VAULT_ADDR: lab.vaultAddr,
    VAULT_AWS_ENDPOINT_URL: lab.stsProxyUrl,
  };
}

/** Pure: ${NAME} replaced in every string (and mapping key); $${NAME} stays a literal ${NAME}. */
export function substitute<T>(value: T, vars: Record<string, string>, file: string): T {
  const one = (s: string): string =>
    s.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, n: string) => {
      if (m.startsWith('$$')) return m.slice(1);
      const v = vars[n];
      if (v === undefined) throw new ScenarioInputError(`${where(file)} is malformed: it uses \${${n}}, which is not a scenario variable (known: ${Object.keys(vars).join(', ')})`);
      return v;
    });
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return one(v);
    if (Array.isArray(v)) return v.map(walk);
    if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [one(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** Pure: a scenario with its variables filled in (what participants and the break see). */
export function resolveScenario(s: Scenario, vars: Record<string, string>): Scenario {
  return { ...s, ...substitute({ title: s.title, symptom: s.symptom, hints: s.hints, answer: s.answer, break: s.break }, vars, s.file) };
}

// ---- breaking --------------------------------------------------------------------

const ACTIVE_FILE = 'scenario.json';

export interface Active {
  name: string;
  at: string;
}

export function activeScenario(labDir: string): Active | undefined {
  try {
    return JSON.parse(readFileSync(join(labDir, ACTIVE_FILE), 'utf8')) as Active;
  } catch {
    return undefined;
  }
}

export function clearActiveScenario(labDir: string): void {
  rmSync(join(labDir, ACTIVE_FILE), { force: true });
}

async function sdkCommand(client: 'iam' | 'sts' | 'eks', command: string): Promise<{ Client: new (c: object) => { send(c: unknown): Promise<unknown>; destroy(): void }; Command: new (input: object) => unknown } | undefined> {
  const mod = (client === 'iam' ? await import('@aws-sdk/client-iam') : client === 'sts' ? await import('@aws-sdk/client-sts') : await import('@aws-sdk/client-eks')) as unknown as Record<string, unknown>;
  const Client = mod[`${client.toUpperCase()}Client`];
  const Command = mod[`${command}Command`];
  if (typeof Client !== 'function' || typeof Command !== 'function') return undefined;
  return { Client: Client as never, Command: Command as never };
}

/** Checks what only the SDK can say: that every aws: command exists. */
export async function checkScenarioCommands(s: Scenario): Promise<void> {
  for (const [i, a] of s.break.entries()) {
    if (a.kind === 'aws' && !(await sdkCommand(a.client, a.command))) {
      throw new ScenarioInputError(`${where(s.file)} is malformed: break[${i + 1}]: the AWS SDK ${a.client} client has no command ${a.command}`);
    }
  }
}

/** Pure: an aws: input as the SDK wants it (fields named *Document sent as JSON). */
export function sdkInput(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, /Document$/.test(k) && typeof v === 'object' && v !== null ? JSON.stringify(v) : v]));
}

/** One line per action, for the trainer (no secrets: the token is never part of an action). */
export function describeAction(a: BreakAction): string {
  if (a.kind === 'aws') return `aws ${a.client} ${a.command}`;
  if (a.kind === 'vault') return `vault ${a.method} ${a.path}`;
  return `moto IAM enforcement ${a.on === 'vault' ? 'on for the Vault server' : a.on ? 'on' : 'off'}`;
}

/**
 * Puts the running lab into the scenario's broken state: moto enforcement off first,
 * then each action in order. Records the scenario in LAB_DIR/scenario.json.
 */
export async function breakLab(name: string, opts: { lab?: LabEnv; env?: NodeJS.ProcessEnv; config?: Config; log?: (l: string) => void } = {}): Promise<Scenario> {
  const log = opts.log ?? (() => undefined);
  const scenario = findScenario(name, scenarioDirs(opts.env));
  await checkScenarioCommands(scenario);
  const lab = opts.lab ?? readLabEnv();
  const config = opts.config ?? labRunbookConfig(lab, opts.env);
  const s = resolveScenario(scenario, scenarioVars(config, lab));
  const hide = (t: string) => t.split(lab.vaultToken).join('****').split(lab.secretAccessKey).join('****');

  await setMotoEnforcement(false, lab);
  setVaultEnforcement(false, lab.labDir);
  const vault = NodeVault({ endpoint: lab.vaultAddr, token: lab.vaultToken, requestOptions: { timeout: 10_000 } });
  const creds = { accessKeyId: lab.accessKeyId, secretAccessKey: lab.secretAccessKey };
  for (const [i, a] of s.break.entries()) {
    const what = `break[${i + 1}] (${describeAction(a)})`;
    if (a.kind === 'moto-enforcement') {
      if (a.on === 'vault') setVaultEnforcement(true, lab.labDir);
      else await setMotoEnforcement(a.on, lab);
    } else if (a.kind === 'aws') {
      const sdk = (await sdkCommand(a.client, a.command))!;
      const client = new sdk.Client({ region: config.region, endpoint: lab.awsEndpoint, credentials: creds, maxAttempts: 2 });
      try {
        await client.send(new sdk.Command(sdkInput(a.input)));
      } catch (e) {
        const err = e as { name?: string; message?: string };
        if (!a.ignore.includes(err.name ?? '')) throw new LabError(hide(`scenario ${s.name}: ${what} failed: AWS said ${err.name ?? 'error'}: ${err.message ?? String(e)} (scenarios start from a working lab: run \`make lab\` first)`), { cause: e });
        log(`break: ${describeAction(a)}: ${err.name} (ignored, as the scenario allows)`);
        continue;
      } finally {
        client.destroy();
      }
    } else {
      try {
        await vault.request({ path: `/${a.path}`, method: a.method, ...(a.body ? { json: a.body } : {}) });
      } catch (e) {
        const err = e as { response?: { statusCode?: number; body?: { errors?: string[] } }; message?: string };
        const status = err.response?.statusCode;
        if (status === undefined || !a.ignore.includes(status)) {
          const detail = err.response?.body?.errors?.join('; ') || err.message || String(e);
          throw new LabError(hide(`scenario ${s.name}: ${what} failed: Vault said${status ? ` (HTTP ${status})` : ''}: ${detail.split('\n').map((l) => l.trim()).join(' ')} (scenarios start from a working lab: run \`make lab\` first)`), { cause: e });
        }
        log(`break: ${describeAction(a)}: HTTP ${status} (ignored, as the scenario allows)`);
        continue;
      }
    }
    log(`break: ${describeAction(a)}`);
  }
  writeFileSync(join(lab.labDir, ACTIVE_FILE), JSON.stringify({ name: s.name, at: new Date().toISOString() } satisfies Active) + '\n');
  return s;
}

/** The participants' text: title, symptom and how to ask for hints. */
export function participantText(s: Scenario): string {
  return [`scenario ${s.name}: ${s.title}`, '', s.symptom.trim(), '', `hints: lab/bin/break --hint ${s.name} (one more each time: --hint ${s.name} 2, 3, …)`].join('\n');
}

export function hintText(s: Scenario, upTo: number): string {
  const n = Math.min(Math.max(1, upTo), s.hints.length);
  return s.hints.slice(0, n).map((h, i) => `hint ${i + 1}/${s.hints.length}: ${h}`).join('\n');
}

export function answerText(s: Scenario): string {
  return [`answer to ${s.name}: ${s.answer.explanation.trim()}`, '', ...s.answer.commands.map((c) => c.trim()), '', `then: make verify (link ${s.failsAtLink}, ${VERIFY_LINKS[s.failsAtLink]}, must hold again)`].join('\n');
}

// ---- the answer, run for real ------------------------------------------------------

/** The environment `eval "$(lab/bin/env)"` gives a shell, for running answer commands. */
export function answerEnv(lab: LabEnv, config: Config, env: NodeJS.ProcessEnv = process.env, vaultBin?: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...env,
    AWS_ENDPOINT_URL: lab.awsEndpoint,
    AWS_ACCESS_KEY_ID: lab.accessKeyId,
    AWS_SECRET_ACCESS_KEY: lab.secretAccessKey,
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    CLUSTER_NAME: config.clusterName,
    VAULT_ADDR: lab.vaultAddr,
    VAULT_TOKEN: lab.vaultToken,
    VAULT_AWS_ENDPOINT_URL: lab.stsProxyUrl,
    LAB_DIR: lab.labDir,
    SA_TOKEN_COMMAND: join(LAB_ROOT, 'lab', 'bin', 'sa-token'),
  };
  for (const k of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN']) delete out[k];
  // The lab's own vault binary, when it is not on PATH (a build in the lab's cache).
  // The lab's own CLIs (LAB_DIR/bin, as lab/bin/env puts them on PATH), then the caller's.
  out.PATH = [join(lab.labDir, 'bin'), ...(vaultBin ? [resolve(vaultBin, '..')] : []), out.PATH ?? ''].join(':');
  return out;
}

/** Runs the answer's commands in order with `sh -c`, output passed through; stops at the first failing one. */
export async function runAnswer(s: Scenario, lab: LabEnv, config: Config, opts: { env?: NodeJS.ProcessEnv; vaultBin?: string; stdio?: 'inherit' | 'pipe'; log?: (l: string) => void } = {}): Promise<{ output: string }> {
  const { spawn } = await import('node:child_process');
  const env = answerEnv(lab, config, opts.env, opts.vaultBin);
  let output = '';
  for (const [i, c] of s.answer.commands.entries()) {
    opts.log?.(`answer[${i + 1}]: ${c.split('\n')[0]}${c.includes('\n') ? ' …' : ''}`);
    const code = await new Promise<number>((done, fail) => {
      const p = spawn('sh', ['-c', c], { cwd: LAB_ROOT, env, stdio: opts.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
      p.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      p.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      p.on('error', fail);
      p.on('close', (n) => done(n ?? 1));
    });
    if (code !== 0) {
      const tail = output.split(lab.vaultToken).join('****').split(lab.secretAccessKey).join('****').trim().split('\n').slice(-5).join('\n');
      throw new LabError(`scenario ${s.name}: answer command ${i + 1} exited ${code}${tail ? `:\n${tail}` : ''}`);
    }
  }
  return { output: output.split(lab.vaultToken).join('****').split(lab.secretAccessKey).join('****') };
}
