// Step 01: the cluster's IAM OIDC provider — what
// `eksctl utils associate-iam-oidc-provider` does (GUIDE §01).
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
import { cmd, exportFrom, q, raw } from '../lib/shell.js';
import { ConfigError, VerificationError } from '../lib/errors.js';
import { STS_AUDIENCE, oidcProviderArn, oidcProviderOf } from '../lib/iam-documents.js';
import { FALLBACK_THUMBPRINT, issuerThumbprint } from '../lib/thumbprint.js';
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
  // The account and the cluster's issuer: the reads check() starts with; and the provider an
  // earlier run recorded, which check() reads next when account and issuer still name it.
  prefetch: (ctx) => {
    const recorded = ctx.state.get('providerArn');
    return Promise.all([
      callerAccount(ctx),
      clusterIssuer(ctx),
      ...(recorded ? [send(ctx.config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: recorded }), ['NoSuchEntityException', 'NoSuchEntity'])] : []),
    ]);
  },
  // Recovered from live state when the state file lacks them (e.g. the setup was pasted from
  // docs/RUNBOOK.md by hand, then `make verify`): the same reads check() makes.
  provides: [
    { key: 'account', recover: (ctx) => callerAccount(ctx) },
    { key: 'partition', recover: async (ctx) => ctx.config.partition },
    { key: 'issuer', recover: (ctx) => clusterIssuer(ctx) },
    { key: 'oidcProvider', recover: async (ctx) => oidcProviderOf(await clusterIssuer(ctx)) },
    {
      key: 'providerArn',
      // Recovered only when the provider exists: otherwise the step that needs it names this one.
      recover: async (ctx) => {
        const arn = oidcProviderArn(ctx.config.partition, await callerAccount(ctx), oidcProviderOf(await clusterIssuer(ctx)));
        const live = await send(ctx.config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }), ['NoSuchEntityException', 'NoSuchEntity']);
        return isNotFound(live) ? undefined : arn;
      },
    },
  ],

  reference(v) {
    const c = v.config;
    const describe = awsCli(c, 'eks', 'describe-cluster', '--name', c.clusterName, '--region', c.region, '--query', 'cluster.identity.oidc.issuer', '--output', 'text');
    return [
      raw([
        '# The configuration (the table above); aws CLI v1 reads the region only from AWS_DEFAULT_REGION',
        `export NAMESPACE=${q(c.namespace)}`,
        `export CLUSTER_NAME=${q(c.clusterName)}`,
        `export AWS_REGION=${q(c.region)}`,
        'export AWS_DEFAULT_REGION="$AWS_REGION"',
        `export VAULT_ADDR=${q(c.vaultAddr)}`,
      ].join('\n')),
      exportFrom('ACCOUNT_ID', awsCli(c, 'sts', 'get-caller-identity', '--query', 'Account', '--output', 'text')),
      raw(`${c.oidcIssuer ? `export OIDC_ISSUER=${q(c.oidcIssuer.replace(/\/$/, ''))}` : exportFrom('OIDC_ISSUER', describe)}\nexport OIDC_PROVIDER=$(echo "$OIDC_ISSUER" | sed -e 's|^https://||')`),
      raw([
        "# Thumbprint: SHA-1 of the issuer's top CA certificate; AWS ignores it for EKS issuers, so when the",
        '# issuer cannot be reached the EKS root CA thumbprint serves (as the runbook does)',
        'OIDC_HOST=${OIDC_PROVIDER%%/*}',
        'THUMBPRINT=$(openssl s_client -servername "$OIDC_HOST" -showcerts -connect "$OIDC_HOST:443" </dev/null 2>/dev/null \\',
        "    | awk '/BEGIN CERTIFICATE/{c=\"\"} {c=c $0 \"\\n\"} /END CERTIFICATE/{last=c} END{printf \"%s\", last}' \\",
        "    | openssl x509 -fingerprint -sha1 -noout 2>/dev/null | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')",
        `export THUMBPRINT=\${THUMBPRINT:-${FALLBACK_THUMBPRINT}}`,
      ].join('\n')),
      raw(`# Create the provider; or instead, with eksctl:\n#   ${['eksctl', 'utils', 'associate-iam-oidc-provider', '--cluster', c.clusterName, '--region', c.region, '--approve'].map(q).join(' ')}\n${createProviderCommand(v, '${THUMBPRINT}')}`),
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

if (isMain(import.meta.url)) void main([step]);
