// The AWS SDK commands the runbook sends, as light stand-ins: constructing one only
// keeps its input; the client's send() (lib/aws.ts) builds the SDK's own command when it
// loads the SDK, at the first call. Importing the SDK's command classes directly would
// load the SDK (its schemas, serde and middleware) with every module that names one,
// print mode and Vault steps included. Types are the SDK's own.
import type * as Iam from '@aws-sdk/client-iam';
import type * as Sts from '@aws-sdk/client-sts';
import type * as Eks from '@aws-sdk/client-eks';

/** Marks a stand-in: which SDK package and command class it stands for. */
export const DEFERRED = Symbol.for('vault-irsa-runbook.deferred-command');

export interface Deferred {
  readonly [DEFERRED]: { service: 'iam' | 'sts' | 'eks'; name: string };
  readonly input: unknown;
}

type Ctor<C> = C extends new (...args: infer A) => infer R ? new (...args: A) => R : never;

function deferred<C>(service: 'iam' | 'sts' | 'eks', name: string): Ctor<C> {
  const cls = class {
    constructor(readonly input: unknown = {}) {}
  };
  Object.defineProperty(cls, 'name', { value: name });
  Object.defineProperty(cls.prototype, DEFERRED, { value: { service, name } });
  return cls as unknown as Ctor<C>;
}

export function isDeferred(c: unknown): c is Deferred {
  return typeof c === 'object' && c !== null && DEFERRED in c;
}

const iam = <C>(name: string) => deferred<C>('iam', name);
export const AddClientIDToOpenIDConnectProviderCommand = iam<typeof Iam.AddClientIDToOpenIDConnectProviderCommand>('AddClientIDToOpenIDConnectProviderCommand');
export const AttachRolePolicyCommand = iam<typeof Iam.AttachRolePolicyCommand>('AttachRolePolicyCommand');
export const CreateOpenIDConnectProviderCommand = iam<typeof Iam.CreateOpenIDConnectProviderCommand>('CreateOpenIDConnectProviderCommand');
export const CreatePolicyCommand = iam<typeof Iam.CreatePolicyCommand>('CreatePolicyCommand');
export const CreatePolicyVersionCommand = iam<typeof Iam.CreatePolicyVersionCommand>('CreatePolicyVersionCommand');
export const CreateRoleCommand = iam<typeof Iam.CreateRoleCommand>('CreateRoleCommand');
export const DeleteOpenIDConnectProviderCommand = iam<typeof Iam.DeleteOpenIDConnectProviderCommand>('DeleteOpenIDConnectProviderCommand');
export const DeletePolicyCommand = iam<typeof Iam.DeletePolicyCommand>('DeletePolicyCommand');
export const DeletePolicyVersionCommand = iam<typeof Iam.DeletePolicyVersionCommand>('DeletePolicyVersionCommand');
export const DeleteRoleCommand = iam<typeof Iam.DeleteRoleCommand>('DeleteRoleCommand');
export const DeleteRolePolicyCommand = iam<typeof Iam.DeleteRolePolicyCommand>('DeleteRolePolicyCommand');
export const DeleteUserPolicyCommand = iam<typeof Iam.DeleteUserPolicyCommand>('DeleteUserPolicyCommand');
export const DetachGroupPolicyCommand = iam<typeof Iam.DetachGroupPolicyCommand>('DetachGroupPolicyCommand');
export const DetachRolePolicyCommand = iam<typeof Iam.DetachRolePolicyCommand>('DetachRolePolicyCommand');
export const DetachUserPolicyCommand = iam<typeof Iam.DetachUserPolicyCommand>('DetachUserPolicyCommand');
export const GetOpenIDConnectProviderCommand = iam<typeof Iam.GetOpenIDConnectProviderCommand>('GetOpenIDConnectProviderCommand');
export const GetPolicyCommand = iam<typeof Iam.GetPolicyCommand>('GetPolicyCommand');
export const GetPolicyVersionCommand = iam<typeof Iam.GetPolicyVersionCommand>('GetPolicyVersionCommand');
export const GetRoleCommand = iam<typeof Iam.GetRoleCommand>('GetRoleCommand');
export const GetRolePolicyCommand = iam<typeof Iam.GetRolePolicyCommand>('GetRolePolicyCommand');
export const GetUserPolicyCommand = iam<typeof Iam.GetUserPolicyCommand>('GetUserPolicyCommand');
export const ListAttachedRolePoliciesCommand = iam<typeof Iam.ListAttachedRolePoliciesCommand>('ListAttachedRolePoliciesCommand');
export const ListEntitiesForPolicyCommand = iam<typeof Iam.ListEntitiesForPolicyCommand>('ListEntitiesForPolicyCommand');
export const ListOpenIDConnectProviderTagsCommand = iam<typeof Iam.ListOpenIDConnectProviderTagsCommand>('ListOpenIDConnectProviderTagsCommand');
export const ListPolicyTagsCommand = iam<typeof Iam.ListPolicyTagsCommand>('ListPolicyTagsCommand');
export const ListPolicyVersionsCommand = iam<typeof Iam.ListPolicyVersionsCommand>('ListPolicyVersionsCommand');
export const ListRolePoliciesCommand = iam<typeof Iam.ListRolePoliciesCommand>('ListRolePoliciesCommand');
export const ListRoleTagsCommand = iam<typeof Iam.ListRoleTagsCommand>('ListRoleTagsCommand');
export const PutRolePolicyCommand = iam<typeof Iam.PutRolePolicyCommand>('PutRolePolicyCommand');
export const PutUserPolicyCommand = iam<typeof Iam.PutUserPolicyCommand>('PutUserPolicyCommand');
export const UpdateAssumeRolePolicyCommand = iam<typeof Iam.UpdateAssumeRolePolicyCommand>('UpdateAssumeRolePolicyCommand');

export const AssumeRoleWithWebIdentityCommand = deferred<typeof Sts.AssumeRoleWithWebIdentityCommand>('sts', 'AssumeRoleWithWebIdentityCommand');
export const GetCallerIdentityCommand = deferred<typeof Sts.GetCallerIdentityCommand>('sts', 'GetCallerIdentityCommand');

export const DescribeClusterCommand = deferred<typeof Eks.DescribeClusterCommand>('eks', 'DescribeClusterCommand');
