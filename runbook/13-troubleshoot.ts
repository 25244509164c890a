// Step 13 (`make troubleshoot`): recognise the guide's known failures from live
// state, explain each precisely, print its fix, and apply it only with --yes:
//   - the implicit deny on iam:GetRole (probed for real: Vault is asked to resolve
//     the bound ARN, and AWS's answer names the identity that lacks it),
//   - the OIDC provider missing, or without sts.amazonaws.com,
//   - the role's trust policy not matching the service accounts' sub/aud,
//   - the Vault client config without (or with another) server-ID value,
//   - KV v1 where Gloo needs v2,
//   - the Vault role bound to another ARN.
// Without --yes the run ends with exit 6 while a problem remains.
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '../lib/aws-commands.js';
import { defineStep, recordCreated, type Action, type Ctx } from '../lib/step.js';
import { callerAccount, clusterIssuer } from '../lib/cluster.js';
import { deleteInlinePolicy, deleteOidcProvider } from '../lib/delete.js';
import { brokenLink, verifyChain } from '../lib/verify-chain.js';
import { RunbookError, VerificationError } from '../lib/errors.js';
import { isNotFound, send } from '../lib/aws.js';
import { awsCli, TAGS } from '../lib/aws-cli.js';
import { heredoc } from '../lib/shell.js';
import { vaultRoleName, type Config } from '../lib/config.js';
import { jsonDiff } from '../lib/diff.js';
import { STS_AUDIENCE, getRoleFixPolicy, glooTrust, oidcProviderArn, oidcProviderOf, roleArn as iamRoleArn, serialize } from '../lib/iam-documents.js';
import { getRole, updateTrustCommands } from '../lib/iam-role.js';
import { issuerThumbprint } from '../lib/thumbprint.js';
import { clientConfig, clientConfigCommand, kvUpgradeCommand, liveRole, roleCommand, rolePayload } from '../lib/vault-documents.js';
import {
  diagnoseKv,
  diagnoseProvider,
  diagnoseRoleBinding,
  diagnoseServerId,
  diagnoseTrust,
  explainGetRoleDenied,
  parseGetRoleDenied,
  type Finding,
} from '../lib/troubleshoot.js';
import { VaultRequestError, type Vault } from '../lib/vault.js';
import * as log from '../lib/log.js';
import { main } from '../lib/run.js';
import { isMain } from '../lib/main.js';

/** The probe role: written and deleted again, only to see whether Vault may call iam:GetRole. */
export const PROBE_ROLE = 'vault-irsa-troubleshoot-probe';
export const GETROLE_FIX_POLICY = 'vault-irsa-getrole';

/** Whether this run applied fixes (keyed by the run's state). */
const applied = new WeakMap<object, boolean>();

export interface Diagnosis {
  finding: Finding;
  fix: Omit<Action, 'what' | 'note'>;
}

/**
 * Ask Vault to resolve the bound ARN as writing the role does; AWS's refusal names
 * the identity. Vault's error lines are kept whole (VaultRequestError.errors).
 */
export async function probeGetRole(vault: Vault, config: Config, roleArn: string): Promise<string | undefined> {
  const path = `auth/${config.authMount}/role/${PROBE_ROLE}`;
  try {
    await vault.write(path, { auth_type: 'iam', bound_iam_principal_arn: roleArn, token_policies: 'default', token_ttl: '1m' }, 30_000);
    return undefined;
  } catch (err) {
    if (err instanceof VaultRequestError) return err.errors.join('\n');
    throw err;
  } finally {
    await vault.delete(path).catch(() => undefined);
  }
}

function getRoleFix(ctx: Ctx, d: NonNullable<ReturnType<typeof parseGetRoleDenied>>, boundArn: string): Diagnosis['fix'] {
  const { config, state } = ctx;
  const doc = serialize(getRoleFixPolicy(boundArn));
  const file = `${GETROLE_FIX_POLICY}.json`;
  const name = d.principalName;
  if (!name || d.kind === 'other') return { change: 'skip', commands: [heredoc(file, doc), `# attach ${file} to the identity behind ${d.identityArn}`] };
  const isUser = d.kind === 'user';
  return {
    change: 'create',
    commands: [
      heredoc(file, doc),
      awsCli(config, 'iam', isUser ? 'put-user-policy' : 'put-role-policy', isUser ? '--user-name' : '--role-name', name, '--policy-name', GETROLE_FIX_POLICY, '--policy-document', `file://${file}`),
    ],
    apply: async () => {
      if (isUser) {
        await send(config, ctx.aws.iam, new PutUserPolicyCommand({ UserName: name, PolicyName: GETROLE_FIX_POLICY, PolicyDocument: doc }));
      } else {
        await send(config, ctx.aws.iam, new PutRolePolicyCommand({ RoleName: name, PolicyName: GETROLE_FIX_POLICY, PolicyDocument: doc }));
      }
      recordCreated(ctx, { kind: 'iam-inline-policy', principal: isUser ? 'user' : 'role', name, policy: GETROLE_FIX_POLICY });
    },
  };
}

/** Every known problem, with its fix, from live state. */
export async function diagnose(ctx: Ctx, opts: { chain?: boolean } = {}): Promise<{ found: Diagnosis[]; checked: string[] }> {
  const { config, state } = ctx;
  const found: Diagnosis[] = [];
  const checked: string[] = [];
  const acct = state.get('account') ?? (await callerAccount(ctx));
  const issuer = state.get('issuer') ?? (await clusterIssuer(ctx));
  const oidcProvider = oidcProviderOf(issuer);
  const providerArn = oidcProviderArn(config.partition, acct, oidcProvider);
  const gloo = await getRole(ctx, config.roleName);
  const roleArn = state.get('roleArn') ?? gloo?.arn;

  // OIDC provider
  const prov = await send(config, ctx.aws.iam, new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }), ['NoSuchEntityException', 'NoSuchEntity']);
  const provLive = isNotFound(prov) ? undefined : { clientIds: prov.ClientIDList ?? [] };
  const pf = diagnoseProvider(providerArn, provLive);
  checked.push('OIDC provider');
  if (pf) {
    found.push({
      finding: pf,
      fix: provLive
        ? {
            change: 'update',
            commands: [awsCli(config, 'iam', 'add-client-id-to-open-id-connect-provider', '--open-id-connect-provider-arn', providerArn, '--client-id', STS_AUDIENCE)],
            apply: async () => {
              await send(config, ctx.aws.iam, new AddClientIDToOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn, ClientID: STS_AUDIENCE }));
            },
          }
        : {
            change: 'create',
            commands: [awsCli(config, 'iam', 'create-open-id-connect-provider', '--url', issuer, '--client-id-list', STS_AUDIENCE, '--thumbprint-list', '${THUMBPRINT}', '--tags', 'Key=managed-by,Value=vault-irsa-runbook')],
            apply: async () => {
              const tp = await issuerThumbprint(issuer);
              await send(config, ctx.aws.iam, new CreateOpenIDConnectProviderCommand({ Url: issuer, ClientIDList: [STS_AUDIENCE], ThumbprintList: [tp.thumbprint], Tags: TAGS }));
              recordCreated(ctx, { kind: 'oidc-provider', arn: providerArn });
            },
          },
    });
  }

  // Trust policy
  const role = gloo;
  checked.push('trust policy');
  if (role) {
    const tf = diagnoseTrust(config.roleName, role.trust, issuer, config.namespace, config.serviceAccounts, (p) => oidcProviderArn(config.partition, acct, p));
    if (tf) {
      const wanted = glooTrust(config, providerArn, oidcProvider);
      found.push({
        finding: tf,
        fix: {
          change: 'update',
          diff: jsonDiff(role.trust, wanted, 'trust policy'),
          commands: updateTrustCommands(ctx, config.roleName, serialize(wanted)),
          apply: async () => {
            await send(config, ctx.aws.iam, new UpdateAssumeRolePolicyCommand({ RoleName: config.roleName, PolicyDocument: serialize(wanted) }));
          },
        },
      });
    }
  }

  // Vault
  const vault = ctx.vault;
  const authEntry = await vault.mountEntry('sys/auth', config.authMount);
  if (authEntry?.type !== 'aws') {
    checked.push(`Vault auth (no aws method at ${config.authMount}/: run step 05; the Vault checks were skipped)`);
    return { found, checked };
  }

  // iam:GetRole, for real
  if (roleArn) {
    checked.push('iam:GetRole of the Vault server');
    const msg = await probeGetRole(vault, config, roleArn);
    const configured = config.vaultServerIdentity === 'role' ? (state.get('vaultServerRoleArn') ?? iamRoleArn(config.partition, acct, config.vaultServerRoleName)) : undefined;
    const denied = msg ? parseGetRoleDenied(msg, configured) : undefined;
    if (denied) {
      const bound = denied.boundArn ?? roleArn;
      found.push({ finding: explainGetRoleDenied(denied, config.vaultServerRoleName), fix: getRoleFix(ctx, denied, bound) });
    }
  }

  // Client config
  const client = (await vault.read(`auth/${config.authMount}/config/client`))?.data as Record<string, unknown> | undefined;
  checked.push('server-ID header');
  const sf = diagnoseServerId(config.authMount, client, config.iamServerIdHeader);
  if (sf) {
    const wanted = clientConfig(config);
    found.push({
      finding: sf,
      fix: {
        change: 'update',
        commands: [clientConfigCommand(config, { iam_server_id_header_value: wanted.iam_server_id_header_value! })],
        apply: async () => {
          await vault.write(`auth/${config.authMount}/config/client`, client ? { iam_server_id_header_value: wanted.iam_server_id_header_value } : wanted);
        },
      },
    });
  }

  // KV version
  const kv = await vault.mountEntry('sys/mounts', config.kvMount);
  checked.push('KV version');
  const kf = diagnoseKv(config.kvMount, kv);
  if (kf) {
    found.push({
      finding: kf,
      fix: {
        change: 'update',
        destructive: true,
        commands: [kvUpgradeCommand(config)],
        apply: async () => {
          await vault.write(`sys/mounts/${config.kvMount}/tune`, { options: { version: '2' } });
          // The upgrade runs in the background; the mount refuses requests until it is done.
          for (let i = 0; i < 40; i++) {
            if (await vault.read(`${config.kvMount}/config`).catch(() => undefined)) break;
            await new Promise((r) => setTimeout(r, 250));
          }
        },
      },
    });
  }

  // Vault role binding
  if (roleArn) {
    const name = vaultRoleName(config);
    const live = (await vault.read(`auth/${config.authMount}/role/${name}`))?.data as Record<string, unknown> | undefined;
    checked.push('Vault role binding');
    const rf = diagnoseRoleBinding(config.authMount, name, live, roleArn);
    if (rf) {
      found.push({
        finding: rf,
        fix: {
          change: 'update',
          diff: `bound_iam_principal_arn: ${JSON.stringify(liveRole(live)?.bound_iam_principal_arn)} -> ${JSON.stringify([roleArn])}`,
          commands: [roleCommand(config, roleArn)],
          apply: async () => {
            await vault.write(`auth/${config.authMount}/role/${name}`, rolePayload(config, roleArn));
          },
        },
      });
    }
    // Bound to the right ARN but to a unique ID the IAM role no longer has (deleted and re-created).
    const ids = Array.isArray(live?.bound_iam_principal_id) ? live.bound_iam_principal_id.map(String).filter(Boolean) : [];
    if (!rf && live && gloo?.id && ids.length && !ids.includes(gloo.id)) {
      found.push({
        finding: {
          id: 'stale-binding',
          title: `Vault role ${name} is bound to a unique ID IAM role ${config.roleName} no longer has`,
          explanation: `Vault resolved ${roleArn} to ${ids.join(', ')} when the role was written; the IAM role now has the ID ${gloo.id} (it was deleted and re-created under the same name), so Vault refuses Gloo's login: write the Vault role again so Vault resolves it anew (make step-09).`,
        },
        fix: {
          change: 'update',
          diff: `bound_iam_principal_id: ${JSON.stringify(ids)} -> ${JSON.stringify([gloo.id])}`,
          commands: [roleCommand(config, roleArn)],
          apply: async () => {
            await vault.write(`auth/${config.authMount}/role/${name}`, rolePayload(config, roleArn));
          },
        },
      });
    }
  }

  // No known problem: does the chain hold? If not, say so plainly, with where it breaks.
  if (opts.chain !== false && !found.length && roleArn) {
    checked.push('the verify chain');
    const broken = brokenLink(await verifyChain(ctx, { roleArn }));
    if (broken) {
      found.push({
        finding: {
          id: 'unknown',
          title: `verify fails at link ${broken.n} (${broken.name}) for a reason troubleshoot does not know`,
          explanation: `${broken.detail} — none of the known problems explains it; run \`make all\` to converge what the runbook owns, then \`make verify\`.`,
        },
        fix: { change: 'skip' },
      });
    }
  }
  return { found, checked };
}

export const step = defineStep({
  id: '13',
  name: 'troubleshoot',
  title: 'Troubleshoot: known failures, explained and fixed',
  needs: ['account'],
  vault: 'token',

  reference(v) {
    const c = v.config;
    return [
      `# The guide's implicit deny: the Vault server's identity needs iam:GetRole on the bound role (least privilege)\n${c.vaultServerIdentity === 'role' ? `export VAULT_SERVER_IDENTITY_ROLE=${c.vaultServerRoleName}` : 'export VAULT_SERVER_IDENTITY_ROLE="${VAULT_SERVER_IDENTITY_ROLE:?set it to the IAM role of the nodes Vault runs on}"'}\n${heredoc(`${GETROLE_FIX_POLICY}.json`, serialize(getRoleFixPolicy(v.roleArn)))}\n${awsCli(c, 'iam', 'put-role-policy', '--role-name', '${VAULT_SERVER_IDENTITY_ROLE}', '--policy-name', GETROLE_FIX_POLICY, '--policy-document', `file://${GETROLE_FIX_POLICY}.json`)}`,
      awsCli(c, 'iam', 'get-open-id-connect-provider', '--open-id-connect-provider-arn', v.providerArn),
      awsCli(c, 'iam', 'get-role', '--role-name', c.roleName, '--query', 'Role.AssumeRolePolicyDocument'),
      `kubectl exec -n ${c.vaultK8sNamespace} vault-0 -- vault read auth/${c.authMount}/config/client`,
      `kubectl exec -n ${c.vaultK8sNamespace} vault-0 -- vault secrets list -detailed`,
      `kubectl exec -n ${c.vaultK8sNamespace} vault-0 -- vault read auth/${c.authMount}/role/${c.roleName.toLowerCase()}`,
    ];
  },

  async check(ctx) {
    const { found, checked } = await diagnose(ctx);
    applied.set(ctx.state, ctx.mode === 'apply' && ctx.yes && found.some((d) => d.fix.apply));
    const actions: Action[] = [{ what: 'known problems checked', change: 'none', note: `${checked.join(', ')}: ${found.length ? `${found.length} found` : 'none found'}` }];
    for (const { finding, fix } of found) {
      log.line(`  problem: ${finding.title}`);
      log.block(finding.explanation);
      if (ctx.mode === 'apply' && fix.commands?.length) {
        log.line(`      fix${ctx.yes ? ' (applying)' : ' (run again with --yes to apply)'}:`);
        for (const c of fix.commands) log.block(c, '        ');
      }
      if (ctx.mode === 'apply' && !ctx.yes) actions.push({ what: `fix for: ${finding.title}`, change: 'skip', note: 'not applied: run again with --yes' });
      else actions.push({ what: `fix for: ${finding.title}`, ...fix });
    }
    return actions;
  },

  async verify(ctx) {
    let left: Diagnosis[];
    try {
      // After fixes were applied, later steps may still have to run (make all): only known problems count then.
      left = (await diagnose(ctx, { chain: !applied.get(ctx.state) })).found;
    } catch (err) {
      throw new VerificationError(`could not check again after the fixes: ${err instanceof RunbookError ? err.message : String(err)}`);
    }
    if (left.length) {
      throw new VerificationError(`${left.length} problem${left.length > 1 ? 's' : ''} left: ${left.map((d) => d.finding.title).join('; ')}${ctx.yes || left.every((d) => d.finding.id === 'unknown') ? '' : ' — run `make troubleshoot ARGS=--yes` to apply the printed fixes'}`);
    }
    return 'no known problem left';
  },

  // What its fixes added: the iam:GetRole inline policy, an OIDC provider it created.
  async teardown(ctx) {
    const out: Action[] = [];
    for (const r of ctx.state.createdBy(ctx.stepId, 'iam-inline-policy')) out.push(await deleteInlinePolicy(ctx, r));
    for (const r of ctx.state.createdBy(ctx.stepId, 'oidc-provider')) out.push(await deleteOidcProvider(ctx, r));
    return out;
  },

  teardownReference: (v) => [awsCli(v.config, 'iam', 'delete-role-policy', '--role-name', '${VAULT_SERVER_IDENTITY_ROLE}', '--policy-name', GETROLE_FIX_POLICY)],
});

if (isMain(import.meta.url)) void main([step]);
