// Step 01: the cluster's IAM OIDC provider — what
// `eksctl utils associate-iam-oidc-provider` does (SPEC §01).
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
} from '../lib/aws-commands.js';
import { defineStep, liveRefValues, recordCreated, type Action, type RefValues } from '../lib/step.js';
import { callerAccount, clusterIssuer } from '../lib/cluster.js';
import { deleteOidcProvider } from '../lib/delete.js';
import { isNotFound, send } from '../lib/aws.js';
import { awsCli, TAGS } from '../lib/aws-cli.js';
import { cmd, raw } from '../lib/shell.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import { STS_AUDIENCE, oidcProviderArn, oidcProviderOf } from '../lib/iam-documents.js';
import { issuerThumbprint } from '../lib/thumbprint.js';
import { checkGivenArn } from '../lib/arn-checks.js';
import { early } from '../lib/early.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

const ISSUER_RE = /^https:\/\/[a-z0-9.-]+(?:\/[A-Za-z0-9._~-]+)*\/?$/;

function createProviderCommand(v: RefValues, thumbprint: string): string {
  return awsCli(v.config, 'iam', 'create-open-id-connect-provider', '--url', v.issuer, '--client-id-list', STS_AUDIENCE, '--thumbprint-list', thumbprint, '--tags', 'Key=managed-by,Value=vault-irsa-runbook');
}

function addClientIdCommand(v: RefValues): string {
  return awsCli(v.config, 'iam', 'add-client-id-to-open-id-connect-provider', '--open-id-connect-provider-arn', v.providerArn, '--client-id', STS_AUDIENCE);
}

export const step = defineStep({
  id: '01',
  name: 'cluster-oidc',
  title: 'Cluster OIDC provider',
  provides: [{ key: 'account' }, { key: 'partition' }, { key: 'issuer' }, { key: 'oidcProvider' }, { key: 'providerArn' }],

  reference(v) {
    const c = v.config;
    const issuerLine = c.oidcIssuer
      ? `export OIDC_ISSUER=${c.oidcIssuer}`
      : `export OIDC_ISSUER=$(${awsCli(c, 'eks', 'describe-cluster', '--name', c.clusterName, '--region', c.region, '--query', 'cluster.identity.oidc.issuer', '--output', 'text')})`;
    return [
      raw(`export NAMESPACE=${c.namespace}\nexport CLUSTER_NAME=${c.clusterName}\nexport AWS_REGION=${c.region}`),
      raw(`export ACCOUNT_ID=$(${awsCli(c, 'sts', 'get-caller-identity', '--query', 'Account', '--output', 'text')})`),
      raw(`${issuerLine}\nexport OIDC_PROVIDER=$(echo "$OIDC_ISSUER" | sed -e 's|^https://||')`),
      raw('# Associate the provider (eksctl), or create it with the aws CLI below'),
      cmd('eksctl', 'utils', 'associate-iam-oidc-provider', '--cluster', c.clusterName, '--region', c.region, '--approve'),
      raw(`# Thumbprint: SHA-1 of the issuer's top CA certificate (AWS ignores it for EKS issuers)\n${createProviderCommand(v, '${THUMBPRINT}')}`),
    ];
  },

  async check(ctx) {
    const { config, state } = ctx;
    // The account and the cluster's issuer are independent reads: both sent at once.
    const issuerRead = early(clusterIssuer(ctx));
    const acct = await callerAccount(ctx);
    checkGivenArn(config, acct);
    const issuer = await issuerRead;
    if (!ISSUER_RE.test(issuer)) {
      throw new ConfigError(`the OIDC issuer "${issuer}" is malformed: it must be an https:// URL without a port or query, e.g. https://oidc.eks.${config.region}.amazonaws.com/id/EXAMPLE`);
    }
    const oidcProvider = oidcProviderOf(issuer);
    const providerArn = oidcProviderArn(config.partition, acct, oidcProvider);
    state.set({ account: acct, partition: config.partition, issuer, oidcProvider, providerArn });
    const v: RefValues = { ...liveRefValues(ctx), account: acct, issuer, oidcProvider, providerArn };

    const live = await send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }), ['NoSuchEntityException', 'NoSuchEntity']);
    const what = `IAM OIDC provider ${oidcProvider}`;
    if (isNotFound(live)) {
      const tp = await issuerThumbprint(issuer);
      const note = tp.source === 'fallback' ? `thumbprint fallback (${tp.reason})` : 'thumbprint from the issuer TLS chain';
      return [{
        what,
        change: 'create',
        note,
        commands: [createProviderCommand(v, tp.thumbprint)],
        apply: async () => {
          // Recorded first, so a run killed between IAM's create and its answer still leaves it to teardown.
          recordCreated(ctx, { kind: 'oidc-provider', arn: providerArn });
          await send(config, ctx.aws.iam, new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: [STS_AUDIENCE], ThumbprintList: [tp.thumbprint], Tags: TAGS }));
        },
      }];
    }
    const actions: Action[] = [];
    if (!(live.ClientIDList ?? []).includes(STS_AUDIENCE)) {
      actions.push({
        what: `client ID ${STS_AUDIENCE} on ${what}`,
        change: 'update',
        diff: `ClientIDList: ${JSON.stringify(live.ClientIDList ?? [])} -> + ${STS_AUDIENCE}`,
        commands: [addClientIdCommand(v)],
        apply: async () => {
          await send(config, ctx.aws.iam, new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn, ClientID: STS_AUDIENCE }));
        },
      });
    } else {
      actions.push({ what, change: 'none', note: `trusts ${STS_AUDIENCE}` });
    }
    return actions;
  },

  async verify(ctx) {
    const providerArn = ctx.state.get('providerArn')!;
    const live = await send(ctx.config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }), ['NoSuchEntityException', 'NoSuchEntity']);
    if (isNotFound(live)) throw new VerificationError(`the OIDC provider ${providerArn} is not there after the step: run step 01 again`);
    if (!(live.ClientIDList ?? []).includes(STS_AUDIENCE)) throw new VerificationError(`the OIDC provider ${providerArn} does not list ${STS_AUDIENCE}`);
    return `provider ${providerArn} trusts ${STS_AUDIENCE}`;
  },

  async teardown(ctx) {
    return Promise.all(ctx.state.createdBy(ctx.stepId, 'oidc-provider').map((r) => deleteOidcProvider(ctx, r)));
  },

  teardownReference: (v) => [awsCli(v.config, 'iam', 'delete-open-id-connect-provider', '--open-id-connect-provider-arn', v.providerArn)],
});

if (isMain(import.meta.url)) await main([step]);
