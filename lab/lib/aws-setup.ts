// What the lab puts into moto and its secrets folder at start: the issuer's
// signing key, the runbook's own AWS identity (lab-admin) and the EKS clusters.
import { existsSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { IAMClient, CreateUserCommand, PutUserPolicyCommand, CreateAccessKeyCommand, GetUserCommand } from '@aws-sdk/client-iam';
import { EKSClient, CreateClusterCommand, DescribeClusterCommand, ResourceNotFoundException } from '@aws-sdk/client-eks';
import { readClusters, readLabConfig } from './lab.js';
import { LabError, type LabSettings } from './settings.js';
import { writeSecret } from './secret-file.js';

/** RSA signing key for the lab issuer (0600), once per lab. */
export function initKey(dir: string): void {
  const file = join(dir, 'secrets', 'issuer-key.pem');
  if (existsSync(file)) return;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeSecret(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** The lab-admin user and its keys (once per moto start), and the EKS cluster `cluster`. */
export async function awsSetup(dir: string, cluster: string, log: (l: string) => void): Promise<string> {
  const cfg = readLabConfig(dir);
  // moto's checks are off while lab-up runs these, so the dummy keys only name the account.
  // LocalStack takes a 12-digit access key as the account: the lab's account, as moto's default.
  const common = {
    region: cfg.region,
    endpoint: `http://127.0.0.1:${cfg.ports.moto}`,
    credentials: { accessKeyId: cfg.awsEmulator === 'localstack' ? cfg.accountId : 'testing', secretAccessKey: 'testing' },
  };
  const emulator = cfg.awsEmulator === 'localstack' ? 'LocalStack' : 'moto';

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
    log(`aws: created EKS cluster ${cluster} in ${emulator} (issuer ${issuer})`);
  }
  if (!issuer)
    throw new LabError(
      cfg.awsEmulator === 'localstack'
        ? `LocalStack returned no OIDC issuer for cluster ${cluster} (EKS is a paid LocalStack feature: check that LOCALSTACK_AUTH_TOKEN's plan includes it; \`docker logs\` of the lab's AWS emulator container says more)`
        : `moto returned no OIDC issuer for cluster ${cluster}: see ${join(dir, 'logs', 'moto.log')}`,
    );
  const cfile = join(dir, 'clusters', `${cluster}.json`);
  mkdirSync(dirname(cfile), { recursive: true });
  // Written whole (a temporary name, then renamed): readClusters() in another process (sa-token,
  // lab-env, a test beside this one) lists every clusters/*.json and must never read half a file.
  const tmp = `${cfile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ name: cluster, issuer }, null, 2) + '\n');
  renameSync(tmp, cfile);
  return issuer;
}

/** A running lab, reused (either mode): the user's AWS_REGION must be the lab's; a cluster the lab does not have yet is added. */
export async function reuseRunningLab(dir: string, st: Pick<LabSettings, 'region' | 'regionFromUser' | 'cluster'>, labRegion: string, log: (l: string) => void): Promise<void> {
  if (st.regionFromUser && st.region !== labRegion)
    throw new LabError(`the running lab is in region ${labRegion}, not AWS_REGION=${st.region}: unset AWS_REGION, or run \`make lab-reset\` with AWS_REGION=${st.region}`);
  const issuer = readClusters(dir)[st.cluster];
  if (issuer) log(`up: cluster ${st.cluster}: ${issuer}`);
  else await awsSetup(dir, st.cluster, log);
}
