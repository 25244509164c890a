// Node half of lab/bin/*: the steps that need crypto or the AWS SDK.
//   labctl.ts init-key            RSA signing key for the lab issuer (0600), once per lab
//   labctl.ts aws-setup           lab-admin user + keys, the EKS cluster $CLUSTER_NAME
//   labctl.ts mint <ns> <sa> [--cluster c] [--ttl s] [--out file]
import { existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { IAMClient, CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand, GetUserCommand } from '@aws-sdk/client-iam';
import { EKSClient, CreateClusterCommand, DescribeClusterCommand, ResourceNotFoundException } from '@aws-sdk/client-eks';
import { labDir, readLabConfig, mintServiceAccountToken } from './lab.js';

function fail(msg: string): never {
  console.error(`${process.env.LAB_PROG ?? 'labctl'}: ${msg}`);
  process.exit(1);
}

/** Write via a temp file so readers never see half a secret, with owner-only mode. */
function writeSecret(file: string, data: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, data, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function initKey(dir: string): void {
  const file = join(dir, 'secrets', 'issuer-key.pem');
  if (existsSync(file)) return;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeSecret(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

async function awsSetup(dir: string): Promise<void> {
  const cfg = readLabConfig(dir);
  const cluster = process.env.CLUSTER_NAME ?? cfg.vaultCluster;
  // moto's checks are off while lab-up runs these, so the dummy keys only name the account.
  const common = {
    region: cfg.region,
    endpoint: `http://127.0.0.1:${cfg.ports.moto}`,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };

  // The runbook's own identity. With enforcement on, moto only accepts callers it
  // knows, so the lab hands out keys of a real moto user with an allow-all policy.
  const adminFile = join(dir, 'secrets', 'aws-admin.json');
  if (!existsSync(adminFile)) {
    const iam = new IAMClient(common);
    const UserName = 'lab-admin';
    try {
      await iam.send(new GetUserCommand({ UserName }));
    } catch {
      await iam.send(new CreateUserCommand({ UserName }));
    }
    await iam.send(
      new PutUserPolicyCommand({
        UserName,
        PolicyName: 'lab-admin-all',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName }));
    writeSecret(adminFile, JSON.stringify({ userName: UserName, accessKeyId: AccessKey!.AccessKeyId, secretAccessKey: AccessKey!.SecretAccessKey }, null, 2) + '\n');
  }

  const eks = new EKSClient(common);
  let issuer: string | undefined;
  try {
    issuer = (await eks.send(new DescribeClusterCommand({ name: cluster }))).cluster?.identity?.oidc?.issuer;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
    const created = await eks.send(
      new CreateClusterCommand({
        name: cluster,
        roleArn: `arn:aws:iam::${cfg.accountId}:role/lab-eks-cluster`,
        resourcesVpcConfig: { subnetIds: [] },
      }),
    );
    issuer = created.cluster?.identity?.oidc?.issuer;
    console.log(`aws: created EKS cluster ${cluster} in moto (issuer ${issuer})`);
  }
  if (!issuer) fail(`moto returned no OIDC issuer for cluster ${cluster}`);
  const cfile = join(dir, 'clusters', `${cluster}.json`);
  mkdirSync(dirname(cfile), { recursive: true });
  writeFileSync(cfile, JSON.stringify({ name: cluster, issuer }, null, 2) + '\n');
}

async function mint(dir: string, args: string[]): Promise<void> {
  const pos: string[] = [];
  let cluster: string | undefined = process.env.CLUSTER_NAME || undefined;
  let ttl: number | undefined;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--cluster') cluster = args[++i];
    else if (a === '--ttl') ttl = Number(args[++i]);
    else if (a === '--out') out = args[++i];
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 2) fail('usage: sa-token <namespace> <serviceaccount> [--cluster NAME] [--ttl SECONDS]');
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) fail('--ttl must be a positive whole number of seconds');
  const jwt = await mintServiceAccountToken(pos[0]!, pos[1]!, { cluster, ttlSeconds: ttl, dir });
  if (out) writeSecret(out, jwt);
  else process.stdout.write(jwt + '\n');
}

const [cmd, ...rest] = process.argv.slice(2);
const dir = labDir();
try {
  if (cmd === 'init-key') initKey(dir);
  else if (cmd === 'aws-setup') await awsSetup(dir);
  else if (cmd === 'mint') await mint(dir, rest);
  else fail(`unknown command "${cmd ?? ''}" (init-key | aws-setup | mint)`);
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
