// ARNs the user gives must belong to the account the credentials are for:
// checked right after sts:GetCallerIdentity, before anything is created.
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { parseArn } from './aws.js';

export function checkGivenArn(config: Config, account: string): void {
  const given = config.givenRoleArn;
  if (!given) return;
  const arn = parseArn(given);
  if (!arn) throw new ConfigError(`VAULT_AUTH_ROLE_ARN "${given}" is not an IAM role ARN like arn:aws:iam::123456789012:role/NAME: fix or unset it`);
  if (arn.account !== account) throw new ConfigError(`VAULT_AUTH_ROLE_ARN names account ${arn.account}, but the AWS credentials are for account ${account}: unset it or use the right AWS_PROFILE`);
  if (arn.partition !== config.partition) throw new ConfigError(`VAULT_AUTH_ROLE_ARN is in partition ${arn.partition}, but AWS_REGION ${config.region} is in ${config.partition}: fix one of them`);
  if (arn.resource.split('/').pop() !== config.roleName) throw new ConfigError(`VAULT_AUTH_ROLE_ARN names role ${arn.resource.split('/').pop()}, but VAULT_AUTH_ROLE_NAME is ${config.roleName}: make them agree`);
}
