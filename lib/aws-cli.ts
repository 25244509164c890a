// The `aws` CLI commands a person would type; the endpoint override is added
// when the runbook itself talks to an emulator, so the printed commands work
// against the lab too.
import type { Config } from './config.js';
import { cmd } from './shell.js';

export function awsCli(config: Config, ...words: string[]): string {
  return cmd('aws', ...words, ...(config.awsEndpoint ? ['--endpoint-url', config.awsEndpoint] : []));
}

export const TAG_KEY = 'managed-by';
export const TAG_VALUE = 'vault-irsa-runbook';
export const TAGS = [{ Key: TAG_KEY, Value: TAG_VALUE }];
