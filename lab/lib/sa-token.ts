// The `sa-token` verb: lab/bin/sa-token <namespace> <serviceaccount> [--cluster NAME]
// [--ttl SECONDS] [--out FILE] prints (or writes, owner-only) a token the lab issuer signed
// (lab.ts mintServiceAccountToken). Step 12 runs it on every verify as SA_TOKEN_COMMAND,
// so it is also built on its own (lab/lib/sa-token-main.ts, dist/lab/sa-token.cjs): one
// small file that loads no more than reading three files and signing needs.
import { LabNotRunningError, mintServiceAccountToken } from './lab.js';
import { LabError, readSettings } from './settings.js';
import { writeSecret } from './secret-file.js';

const USAGE = 'usage: sa-token <namespace> <serviceaccount> [--cluster NAME] [--ttl SECONDS] [--out FILE]';

export async function saToken(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const pos: string[] = [];
  let cluster = env.CLUSTER_NAME || undefined;
  let ttl: number | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--cluster') cluster = args[++i];
    else if (a === '--ttl') ttl = Number(args[++i]);
    else if (a === '--out') out = args[++i];
    else if (a.startsWith('-')) throw new LabError(`unknown option ${a}: ${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 2) throw new LabError(USAGE);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new LabError('--ttl must be a positive whole number of seconds');
  const st = readSettings({ ...env, CLUSTER_NAME: cluster ?? '' });
  let jwt: string;
  try {
    jwt = await mintServiceAccountToken(pos[0]!, pos[1]!, { cluster, ttlSeconds: ttl, dir: st.dir });
  } catch (e) {
    if (e instanceof LabNotRunningError) throw e;
    throw new LabError((e as Error).message, { cause: e });
  }
  if (out) writeSecret(out, jwt);
  else process.stdout.write(jwt + '\n');
}
