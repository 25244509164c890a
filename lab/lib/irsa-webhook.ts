// The lab's stand-in for the EKS pod identity webhook (aws/amazon-eks-pod-identity-webhook):
// a mutating admission webhook that gives a pod IRSA when its service account carries
// `eks.amazonaws.com/role-arn`. As on EKS, it acts when a pod is CREATED only:
// annotating a service account changes nothing for running pods.
//
// Every container (and init container) gets, unless it already sets them:
//   AWS_STS_REGIONAL_ENDPOINTS=regional, AWS_DEFAULT_REGION, AWS_REGION,
//   AWS_ROLE_ARN=<annotation>, AWS_WEB_IDENTITY_TOKEN_FILE=<mount>/token
// and a read-only mount of the projected volume `aws-iam-token` (a service-account
// token with audience sts.amazonaws.com, 86400 s). Service-account annotations
// eks.amazonaws.com/audience and eks.amazonaws.com/token-expiration change those two,
// pod annotation eks.amazonaws.com/skip-containers (comma-separated names) exempts
// containers — the same knobs the EKS webhook reads.
//
// Run: node --import tsx lab/lib/irsa-webhook.ts --port N --cert F --key F
//        --api https://127.0.0.1:N --token-file F --ca F --region R
//        [--host H] [--sts-front URL --lab-ca-file PATH]
// It serves HTTPS on 127.0.0.1 (or --host): POST /mutate (AdmissionReview v1), GET /healthz.
// It reads service accounts from the API server with a bearer token (the process lab's
// admin token; in Docker mode's kind cluster, a service account's token that may only
// read service accounts).
//
// --sts-front and --lab-ca-file (Docker mode's kind cluster only): a pod it gives IRSA
// also gets what carries its STS calls to the lab's AWS emulator, as Docker mode's Vault
// container does: HTTPS_PROXY=<front>, NO_PROXY (cluster addresses), AWS_CA_BUNDLE and a
// read-only hostPath mount of the lab CA (the kind node has it at PATH, lab/kind.yaml).
// On EKS nothing like this exists: the SDK reaches the real STS.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const ROLE_ARN_ANNOTATION = 'eks.amazonaws.com/role-arn';
export const AUDIENCE_ANNOTATION = 'eks.amazonaws.com/audience';
export const TOKEN_EXPIRATION_ANNOTATION = 'eks.amazonaws.com/token-expiration';
export const SKIP_CONTAINERS_ANNOTATION = 'eks.amazonaws.com/skip-containers';
export const TOKEN_VOLUME = 'aws-iam-token';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
export const TOKEN_FILE = `${TOKEN_MOUNT_PATH}/token`;
export const DEFAULT_AUDIENCE = 'sts.amazonaws.com';
export const DEFAULT_TOKEN_EXPIRATION = 86400;
export const WEBHOOK_PATH = '/mutate';
/** Name of the MutatingWebhookConfiguration (the EKS one is also called this). */
export const WEBHOOK_NAME = 'pod-identity-webhook';

/** Pure: the MutatingWebhookConfiguration EKS has (pods, CREATE, failurePolicy Ignore), calling the lab's webhook at `url`. */
export function webhookRegistration(url: string, caPem: string | Buffer): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: WEBHOOK_NAME, labels: { 'vault-irsa-runbook/lab': 'true' } },
    webhooks: [
      {
        name: 'iam-for-pods.amazonaws.com',
        clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
        objectSelector: { matchExpressions: [{ key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' }] },
      },
    ],
  };
}

type Obj = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container extends Obj {
  name: string;
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Pod {
  metadata?: { name?: string; generateName?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { serviceAccountName?: string; containers?: Container[]; initContainers?: Container[]; volumes?: Obj[] } & Obj;
}
export interface ServiceAccount {
  metadata?: { name?: string; annotations?: Record<string, string> };
}
export type PatchOp = { op: 'add' | 'replace'; path: string; value: unknown };

/**
 * Pure: the JSON patch that gives `pod` the IRSA identity of `sa`, or [] when the
 * service account has no role annotation or the pod already has the token volume.
 */
export interface LabStsRoute {
  /** The lab's STS front as pods reach it (http://sts-proxy:8182). */
  stsFront: string;
  /** The lab CA's path on the node, mounted at the same path in the pod. */
  caFile: string;
}

export const LAB_CA_VOLUME = 'vault-irsa-runbook-lab-ca';
/** What pods reach directly, not through the STS front: loopback and the cluster's own addresses (kind: 10.96/12 services, 10.244/16 pods). */
export const LAB_NO_PROXY = '127.0.0.1,localhost,.svc,.cluster.local,10.0.0.0/8';

export function irsaPatch(pod: Pod, sa: ServiceAccount | undefined, region: string, lab?: LabStsRoute): PatchOp[] {
  const ann = sa?.metadata?.annotations ?? {};
  const roleArn = ann[ROLE_ARN_ANNOTATION];
  const spec = pod.spec ?? {};
  if (!roleArn) return [];
  if ((spec.volumes ?? []).some((v) => v.name === TOKEN_VOLUME)) return [];
  const audience = ann[AUDIENCE_ANNOTATION] || DEFAULT_AUDIENCE;
  const expiration = Number(ann[TOKEN_EXPIRATION_ANNOTATION]) || DEFAULT_TOKEN_EXPIRATION;
  const skip = new Set((pod.metadata?.annotations?.[SKIP_CONTAINERS_ANNOTATION] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const wanted: EnvVar[] = [
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_DEFAULT_REGION', value: region },
    { name: 'AWS_REGION', value: region },
    { name: 'AWS_ROLE_ARN', value: roleArn },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE },
    ...(lab
      ? [
          { name: 'HTTPS_PROXY', value: lab.stsFront },
          { name: 'NO_PROXY', value: LAB_NO_PROXY },
          { name: 'AWS_CA_BUNDLE', value: lab.caFile },
        ]
      : []),
  ];
  const mutate = (c: Container): Container => {
    if (skip.has(c.name)) return c;
    const env = [...(c.env ?? [])];
    for (const e of wanted) if (!env.some((x) => x.name === e.name)) env.push(e);
    const mounts = [...(c.volumeMounts ?? [])];
    if (!mounts.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) mounts.push({ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true });
    if (lab && !mounts.some((m) => m.mountPath === lab.caFile)) mounts.push({ name: LAB_CA_VOLUME, mountPath: lab.caFile, readOnly: true });
    return { ...c, env, volumeMounts: mounts };
  };
  const volume = {
    name: TOKEN_VOLUME,
    projected: { defaultMode: 420, sources: [{ serviceAccountToken: { audience, expirationSeconds: expiration, path: 'token' } }] },
  };
  const volumes: Obj[] = [volume, ...(lab ? [{ name: LAB_CA_VOLUME, hostPath: { path: lab.caFile, type: 'File' } }] : [])];
  const ops: PatchOp[] = [{ op: 'replace', path: '/spec/containers', value: (spec.containers ?? []).map(mutate) }];
  if (spec.initContainers?.length) ops.push({ op: 'replace', path: '/spec/initContainers', value: spec.initContainers.map(mutate) });
  ops.push(spec.volumes ? { op: 'replace', path: '/spec/volumes', value: [...spec.volumes, ...volumes] } : { op: 'add', path: '/spec/volumes', value: volumes });
  return ops;
}

interface AdmissionReview {
  apiVersion?: string;
  kind?: string;
  request?: { uid: string; namespace?: string; operation?: string; kind?: { kind?: string }; object?: Pod };
}

/** Pure: the AdmissionReview response for a patch. */
export function admissionResponse(uid: string, ops: PatchOp[]): Obj {
  const response: Obj = { uid, allowed: true };
  if (ops.length) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

interface Options {
  host: string;
  port: number;
  cert: string;
  key: string;
  api: string;
  tokenFile: string;
  ca: string;
  region: string;
  lab?: LabStsRoute;
}

function parseArgs(argv: string[]): Options {
  const o: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    o[a.slice(2)] = v;
  }
  for (const k of ['port', 'cert', 'key', 'api', 'token-file', 'ca', 'region']) if (!o[k]) throw new Error(`--${k} is required`);
  if (!!o['sts-front'] !== !!o['lab-ca-file']) throw new Error('--sts-front and --lab-ca-file go together');
  return {
    host: o.host || '127.0.0.1',
    port: Number(o.port),
    cert: o.cert!,
    key: o.key!,
    api: o.api!,
    tokenFile: o['token-file']!,
    ca: o.ca!,
    region: o.region!,
    ...(o['sts-front'] ? { lab: { stsFront: o['sts-front'], caFile: o['lab-ca-file']! } } : {}),
  };
}

/** GET a service account from the API server; undefined when it does not exist. */
function getServiceAccount(o: Options, ns: string, name: string): Promise<ServiceAccount | undefined> {
  const url = new URL(`/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(name)}`, o.api);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', ca: readFileSync(o.ca), headers: { authorization: `Bearer ${readFileSync(o.tokenFile, 'utf8').trim()}`, accept: 'application/json' }, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 404) resolve(undefined);
        else if (res.statusCode === 200) resolve(JSON.parse(text) as ServiceAccount);
        else reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function serve(o: Options): void {
  const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);
  const server = https.createServer({ cert: readFileSync(o.cert), key: readFileSync(o.key) }, (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/healthz') return send(200, { ok: true });
    if (req.method !== 'POST' || !req.url?.startsWith(WEBHOOK_PATH)) return send(404, { error: 'not found' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      let uid = '';
      try {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
        const r = review.request;
        if (!r) return send(400, { error: 'no request in AdmissionReview' });
        uid = r.uid;
        const pod = r.object ?? {};
        const ns = r.namespace ?? pod.metadata?.namespace ?? 'default';
        const saName = pod.spec?.serviceAccountName || 'default';
        const podName = pod.metadata?.name || `${pod.metadata?.generateName ?? ''}*`;
        if (r.kind?.kind !== 'Pod' || r.operation !== 'CREATE') return send(200, admissionResponse(uid, []));
        const sa = await getServiceAccount(o, ns, saName);
        const ops = irsaPatch(pod, sa, o.region, o.lab);
        log(`${ns}/${podName} (service account ${saName}): ${ops.length ? `IRSA for ${sa?.metadata?.annotations?.[ROLE_ARN_ANNOTATION]}` : 'no role annotation, unchanged'}`);
        send(200, admissionResponse(uid, ops));
      } catch (e) {
        // failurePolicy is Ignore (as on EKS): say no loudly, the API server admits the pod unchanged.
        log(`error: ${e instanceof Error ? e.message : String(e)}`);
        send(200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, warnings: [`lab IRSA webhook: ${String(e)}`] } });
      }
    });
  });
  server.listen(o.port, o.host, () => log(`irsa-webhook listening on https://${o.host}:${o.port}${WEBHOOK_PATH} (region ${o.region}${o.lab ? `; STS through ${o.lab.stsFront}` : ''})`));
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // the API server keeps connections alive
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    serve(parseArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(`irsa-webhook: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
}
