// Facts about the caller and the cluster that several steps read: the AWS
// account (sts:GetCallerIdentity) and the cluster's OIDC issuer (EKS
// DescribeCluster, or OIDC_ISSUER for clusters that are not EKS).
import { GetCallerIdentityCommand } from './aws-commands.js';
import { DescribeClusterCommand } from './aws-commands.js';
import type { Ctx } from './step.js';
import { isNotFound, send } from './aws.js';
import { ConfigError, VerificationError } from './errors.js';

export async function callerAccount(ctx: Ctx): Promise<string> {
  const id = await send(ctx.config, ctx.aws.sts, new GetCallerIdentityCommand({}));
  if (isNotFound(id) || !id.Account) throw new VerificationError('sts:GetCallerIdentity returned no account');
  return id.Account;
}

export async function clusterIssuer(ctx: Ctx): Promise<string> {
  const { config } = ctx;
  if (config.oidcIssuer) return config.oidcIssuer.replace(/\/$/, '');
  const res = await send(config, ctx.aws.eks, new DescribeClusterCommand({ name: config.clusterName }), ['ResourceNotFoundException']);
  if (isNotFound(res)) {
    throw new ConfigError(`EKS cluster "${config.clusterName}" was not found in ${config.region}: check CLUSTER_NAME and AWS_REGION, or set OIDC_ISSUER for a cluster that is not EKS`);
  }
  const issuer = res.cluster?.identity?.oidc?.issuer;
  if (!issuer) throw new ConfigError(`EKS cluster "${config.clusterName}" reports no OIDC issuer: it may still be creating; wait until it is ACTIVE, or set OIDC_ISSUER`);
  return issuer.replace(/\/$/, '');
}
