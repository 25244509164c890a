// The lab's IRSA webhook patch (lab/lib/irsa-webhook.ts), pure: what the EKS pod
// identity webhook puts on a pod whose service account carries the role annotation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { irsaPatch, admissionResponse, LAB_CA_VOLUME, LAB_NO_PROXY, TOKEN_FILE, TOKEN_MOUNT_PATH, TOKEN_VOLUME, type Pod, type PatchOp } from '../lab/lib/irsa-webhook.js';

const ROLE = 'arn:aws:iam::123456789012:role/dev-role-iam-x';
const sa = (annotations: Record<string, string> = { 'eks.amazonaws.com/role-arn': ROLE }) => ({ metadata: { name: 'gloo', annotations } });
const pod = (over: Partial<NonNullable<Pod['spec']>> = {}, annotations?: Record<string, string>): Pod => ({
  metadata: { name: 'gloo-1', annotations },
  spec: { serviceAccountName: 'gloo', containers: [{ name: 'gloo' }], ...over },
});
const op = (ops: PatchOp[], path: string) => ops.find((o) => o.path === path);
type C = { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[] };

test('no role annotation: no patch', () => {
  assert.equal(irsaPatch(pod(), sa({}), 'us-east-1'), []);
  assert.equal(irsaPatch(pod(), undefined, 'us-east-1'), []);
});

test('role annotation: the EKS env, mount and projected token (audience sts.amazonaws.com)', () => {
  const ops = irsaPatch(pod(), sa(), 'eu-west-1');
  const [c] = op(ops, '/spec/containers')!.value as C[];
  assert.equal(c!.env, [
    { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' },
    { name: 'AWS_DEFAULT_REGION', value: 'eu-west-1' },
    { name: 'AWS_REGION', value: 'eu-west-1' },
    { name: 'AWS_ROLE_ARN', value: ROLE },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: TOKEN_FILE },
  ]);
  assert.equal(c!.volumeMounts, [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true }]);
  const v = op(ops, '/spec/volumes')!;
  assert.is(v.op, 'add');
  assert.equal(v.value, [{ name: TOKEN_VOLUME, projected: { defaultMode: 420, sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } }]);
});

test('keeps what the pod sets, appends to existing volumes, honours audience/expiration/skip-containers', () => {
  const p = pod({ containers: [{ name: 'gloo', env: [{ name: 'AWS_REGION', value: 'us-west-2' }] }, { name: 'sidecar' }], initContainers: [{ name: 'init' }], volumes: [{ name: 'kube-api-access' }] }, { 'eks.amazonaws.com/skip-containers': 'sidecar' });
  const ops = irsaPatch(p, sa({ 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/audience': 'other', 'eks.amazonaws.com/token-expiration': '3600' }), 'us-east-1');
  const [gloo, sidecar] = op(ops, '/spec/containers')!.value as C[];
  assert.is(gloo!.env!.find((e) => e.name === 'AWS_REGION')!.value, 'us-west-2');
  assert.is(gloo!.env!.filter((e) => e.name === 'AWS_REGION').length, 1);
  assert.equal(sidecar, { name: 'sidecar' });
  assert.ok(((op(ops, '/spec/initContainers')!.value as C[])[0]!.env ?? []).some((e) => e.name === 'AWS_ROLE_ARN'));
  const vols = op(ops, '/spec/volumes')!;
  assert.is(vols.op, 'replace');
  const list = vols.value as { name: string; projected?: { sources: { serviceAccountToken: { audience: string; expirationSeconds: number } }[] } }[];
  assert.equal(list.map((x) => x.name), ['kube-api-access', TOKEN_VOLUME]);
  assert.equal(list[1]!.projected!.sources[0]!.serviceAccountToken, { audience: 'other', expirationSeconds: 3600, path: 'token' } as never);
});

test('a pod that already has the token volume is left alone (reinvocation)', () => {
  assert.equal(irsaPatch(pod({ volumes: [{ name: TOKEN_VOLUME }] }), sa(), 'us-east-1'), []);
});

test('admission response: base64 JSONPatch only when there is a patch', () => {
  const ops = irsaPatch(pod(), sa(), 'us-east-1');
  const r = admissionResponse('uid-1', ops) as { response: { uid: string; allowed: boolean; patchType?: string; patch?: string } };
  assert.is(r.response.uid, 'uid-1');
  assert.is(r.response.patchType, 'JSONPatch');
  assert.equal(JSON.parse(Buffer.from(r.response.patch!, 'base64').toString('utf8')), ops);
  assert.equal((admissionResponse('u', []) as { response: object }).response, { uid: 'u', allowed: true });
});

test('Docker mode\'s kind cluster: also the route to the lab\'s STS front (proxy, CA bundle, the CA from the node), nothing of it without a role', () => {
  const lab = { stsFront: 'http://sts-proxy:8182', caFile: '/etc/vault-irsa-runbook-lab/sts-ca.pem' };
  assert.equal(irsaPatch(pod(), sa({}), 'us-east-1', lab), []);
  const ops = irsaPatch(pod({ volumes: [{ name: 'data' }] }), sa(), 'us-east-1', lab);
  const [c] = op(ops, '/spec/containers')!.value as C[];
  assert.equal(c!.env!.slice(5), [
    { name: 'HTTPS_PROXY', value: 'http://sts-proxy:8182' },
    { name: 'NO_PROXY', value: LAB_NO_PROXY },
    { name: 'AWS_CA_BUNDLE', value: lab.caFile },
  ]);
  assert.equal(c!.volumeMounts![1], { name: LAB_CA_VOLUME, mountPath: lab.caFile, readOnly: true });
  const v = op(ops, '/spec/volumes')!;
  assert.is(v.op, 'replace');
  assert.equal((v.value as { name: string }[]).map((x) => x.name), ['data', TOKEN_VOLUME, LAB_CA_VOLUME]);
  assert.equal((v.value as { hostPath?: unknown }[])[2]!.hostPath, { path: lab.caFile, type: 'File' });
});

test.run();
