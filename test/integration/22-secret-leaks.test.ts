// Reliability in the lab, secret leaks: run the real scripts the way a user does
// (the full flow, verify, troubleshoot, JSON output, a dry run, print mode, a
// failing verify, teardown) and scan everything they leave — stdout, stderr, the
// state directory (state file, lock files), the Helm values file, the repo's
// .state/ and what the lab's server logs gained meanwhile — for every secret of
// the run: the lab's Vault root token, the AWS secret key, and the Vault client
// tokens and STS session tokens the run itself obtained. Those last two are
// captured on the wire by a loopback proxy in front of Vault (the login responses
// carry client_token; the signed login requests carry X-Amz-Security-Token), so
// the scan looks for the real values the runbook held, and would find them.
// run.ts lane: names (about 10 s)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lab, run } from '../helpers/lab.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { teardownSteps } from '../helpers/teardown.js';
import { scriptEnv, setup, type TestSetup } from './10-13-setup.js';
import { scriptArgs } from '../helpers/script.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let t: TestSetup;
let vault: FaultProxy;
const outputs: { what: string; text: string }[] = [];
const logSizes = new Map<string, number>();

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return scriptEnv(t, vault.url, extra);
}

function script(file: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, scriptArgs(path.join('runbook', file), ...args), { cwd: root, env: env(extra) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      const what = `${file} ${args.join(' ')} ${JSON.stringify(extra)}`;
      outputs.push({ what: `${what} stdout`, text: stdout }, { what: `${what} stderr`, text: stderr });
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? filesUnder(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

const labLogs = (): string[] => filesUnder(path.join(lab().labDir, 'logs'));

/** The secrets this run held: the lab's, and the ones obtained on the wire. */
function secrets(): { name: string; value: string }[] {
  const l = lab();
  const out = [
    { name: 'Vault root token (VAULT_TOKEN)', value: l.vaultToken },
    { name: 'AWS secret access key', value: l.secretAccessKey },
  ];
  for (const s of vault.seen) {
    for (const m of s.response.matchAll(/"client_token":"([^"]+)"/g)) out.push({ name: `Vault client token from ${s.url}`, value: m[1]! });
    const headers = /"iam_request_headers":"([^"]+)"/.exec(s.body)?.[1];
    if (headers) {
      const h = JSON.parse(Buffer.from(headers, 'base64').toString('utf8')) as Record<string, string[]>;
      const st = h['X-Amz-Security-Token']?.[0];
      if (st) out.push({ name: 'STS session token (signed into a Vault login)', value: st });
    }
  }
  return [...new Map(out.map((s) => [s.value, s])).values()];
}

function hits(text: string, where: string): string[] {
  return secrets().filter((s) => text.includes(s.value)).map((s) => `${s.name} in ${where}`);
}

test.before(async () => {
  t = await setup('t22');
  vault = await startFaultProxy(lab().vaultAddr);
  for (const f of labLogs()) logSizes.set(f, fs.statSync(f).size);
});

test.after(async () => {
  await run(teardownSteps, t.config, { yes: true });
  await vault.close();
});

test('the full flow, verify, troubleshoot, JSON, dry run, print and a failing verify all run', async () => {
  const all = await script('all.ts', ['--yes']);
  assert.is(all.code, 0, all.stdout + all.stderr);
  assert.match(all.stdout, 'all 5 links hold');
  const verify = await script('12-verify.ts', []);
  assert.is(verify.code, 0, verify.stdout + verify.stderr);
  const ts = await script('13-troubleshoot.ts', []);
  assert.is(ts.code, 0, ts.stdout + ts.stderr);
  const json = await script('all.ts', ['--yes', '--output', 'json']);
  assert.is(json.code, 0, json.stderr);
  assert.ok(JSON.parse(json.stdout).ok);
  assert.is((await script('all.ts', ['--dry-run'])).code, 0);
  assert.is((await script('all.ts', ['--print'])).code, 0);
  const failing = await script('12-verify.ts', [], { IAM_SERVER_ID_HEADER_VALUE: 'wrong.example.com' });
  assert.is(failing.code, 6, failing.stdout + failing.stderr);
  assert.match(failing.stderr, 'link 4 (Vault login');
});

test('the scan is real: the run obtained Vault client tokens and STS session tokens, and the scan finds them where they are', () => {
  const got = secrets();
  const clients = got.filter((s) => s.name.startsWith('Vault client token'));
  const sessions = got.filter((s) => s.name.startsWith('STS session token'));
  // One token per login Vault accepted (all, verify, the JSON run, …); the failing verify got none.
  const logins = vault.seen.filter((s) => s.url === `/v1/auth/${t.names.auth}/login`);
  assert.ok(logins.filter((s) => s.status === 200).length >= 3, `logins: ${logins.map((s) => s.status).join(', ')}`);
  assert.is(clients.length, logins.filter((s) => s.status === 200).length, 'a token captured for every accepted login');
  assert.ok(sessions.length >= 4, `session tokens captured: ${sessions.length}`);
  for (const s of [...clients, ...sessions]) assert.ok(s.value.length >= 20);
  // Control: the same scan over what went over the wire does find them.
  const wire = vault.seen.map((s) => `${s.body}\n${s.response}`).join('\n');
  assert.ok(hits(wire, 'the wire').length >= clients.length, 'the scanner finds the tokens in the raw traffic');
});

test('zero hits: no secret in any stdout or stderr', () => {
  assert.ok(outputs.length >= 14, `outputs captured: ${outputs.length}`);
  const found = outputs.flatMap((o) => hits(o.text, o.what));
  assert.equal(found, []);
});

test('zero hits: no secret in the state directory, the values file or the repo .state/', () => {
  const dirs = [path.dirname(t.config.stateFile), path.dirname(t.config.valuesFile), path.join(root, '.state')];
  const files = [...new Set(dirs.flatMap(filesUnder))];
  assert.ok(files.some((f) => f === t.config.stateFile), `state file scanned: ${files.join(', ')}`);
  const found = files.flatMap((f) => hits(fs.readFileSync(f, 'utf8'), f));
  assert.ok(files.includes(t.config.valuesFile), `values file scanned: ${files.join(', ')}`);
  assert.equal(found, []);
});

test('zero hits: teardown\'s output, and the lab logs written during the run', async () => {
  const down = await script('teardown.ts', ['--yes']);
  assert.is(down.code, 0, down.stdout + down.stderr);
  assert.equal([...hits(down.stdout, 'teardown stdout'), ...hits(down.stderr, 'teardown stderr')], []);
  const found: string[] = [];
  for (const f of labLogs()) {
    const from = logSizes.get(f) ?? 0;
    const fd = fs.openSync(f, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    fs.readSync(fd, buf, 0, buf.length, from);
    fs.closeSync(fd);
    found.push(...hits(buf.toString('utf8'), `${f} (written during the test)`));
  }
  assert.equal(found, []);
});

test.run();
