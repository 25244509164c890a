// The STS SDK classes the runbook sends, named one by one (lib/aws.ts loads this module at
// the first STS call). Named exports let the bundle keep only these: importing the whole
// package would also load its aggregated client, whose module builds a method for every
// STS action when it loads. A stand-in in lib/aws-commands.ts needs its class here
// (test/aws.test.ts checks).
export {
  STSClient,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
} from '@aws-sdk/client-sts';
