// The lab's two small loopback servers (started by lab/bin/up, one process each):
//
//   servers.ts issuer     OIDC discovery + JWKS for the lab clusters' service-account
//                         issuer, and kubelet's job: keep the Vault server's projected
//                         token (tokens/vault-vault.jwt) fresh.
//   servers.ts sts-proxy  An HTTPS proxy that lets the Vault process keep AWS's real STS
//                         host names while talking to moto. Why: Vault's AWS auth builds
//                         its IRSA credentials with aws-sdk-go v1
//                         (go-secure-stdlib/awsutil: stscreds.NewWebIdentityRoleProvider on
//                         a bare session.NewSession()), and SDK v1 ignores AWS_ENDPOINT_URL*,
//                         so AssumeRoleWithWebIdentity always goes to
//                         https://sts[.<region>].amazonaws.com. Vault runs with
//                         HTTPS_PROXY=<this>, NO_PROXY=127.0.0.1 and AWS_CA_BUNDLE=<lab CA>;
//                         CONNECTs to STS hosts are terminated here with a lab-CA
//                         certificate and forwarded to moto, anything else is refused.
import http from 'node:http';
import tls from 'node:tls';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { labDir, readLabConfig, readClusters, issuerJwks, mintServiceAccountToken, vaultEnforcementFile } from './lab.js';

const dir = labDir();
const cfg = readLabConfig(dir);
const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);

function issuer(): void {
  const base = `http://127.0.0.1:${cfg.ports.issuer}`;
  const discovery = (iss: string) => ({
    issuer: iss,
    jwks_uri: `${base}/keys`,
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['sub', 'iss'],
  });
  const server = http.createServer(async (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const path = new URL(req.url ?? '/', base).pathname;
      const clusters = readClusters(dir); // re-read: `up` may have added a cluster
      if (path === '/keys') return send(200, await issuerJwks(dir));
      if (path === '/.well-known/openid-configuration') return send(200, discovery(clusters[cfg.vaultCluster] ?? base));
      // Each EKS issuer is https://oidc.eks.<region>.amazonaws.com/id/<ID>; serve its
      // discovery document under the same /id/<ID> path here.
      const m = /^\/id\/([^/]+)\/\.well-known\/openid-configuration$/.exec(path);
      const iss = m && Object.values(clusters).find((i) => i.endsWith(`/id/${m[1]}`));
      if (iss) return send(200, discovery(iss));
      if (path === '/healthz') return send(200, { ok: true });
      send(404, { error: 'not found' });
    } catch (e) {
      send(500, { error: String(e) });
    }
  });
  server.listen(cfg.ports.issuer, '127.0.0.1', () => log(`issuer listening on ${base}`));

  // kubelet rotates projected tokens well before expiry; do the same for Vault's.
  const refresh = async () => {
    try {
      await writeVaultToken();
    } catch (e) {
      log(`could not refresh the Vault server token: ${String(e)}`);
    }
  };
  setInterval(refresh, 10 * 60 * 1000).unref();
}

async function writeVaultToken(): Promise<void> {
  const { writeFileSync, renameSync } = await import('node:fs');
  const file = join(dir, 'tokens', 'vault-vault.jwt');
  const jwt = await mintServiceAccountToken('vault', 'vault', { cluster: cfg.vaultCluster, ttlSeconds: 3600, dir });
  writeFileSync(`${file}.tmp`, jwt, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

function stsProxy(): void {
  // Docker mode runs this proxy in a container on the lab's network: moto is then
  // `moto:5000` there, and the proxy listens on all of the container's addresses
  // (published on the host's 127.0.0.1 only). Process mode: loopback, the lab's ports.
  const moto = { host: process.env.LAB_STS_UPSTREAM_HOST || '127.0.0.1', port: Number(process.env.LAB_STS_UPSTREAM_PORT || cfg.ports.moto) };
  const listen = { host: process.env.LAB_LISTEN_HOST || '127.0.0.1', port: Number(process.env.LAB_LISTEN_PORT || cfg.ports.stsProxy) };
  const allowed = new Set(['sts.amazonaws.com', `sts.${cfg.region}.amazonaws.com`]);
  const secure = tls.createSecureContext({
    key: readFileSync(join(dir, 'secrets', 'sts-key.pem')),
    cert: readFileSync(join(dir, 'sts-cert.pem')),
  });
  const admin = JSON.parse(readFileSync(join(dir, 'secrets', 'aws-admin.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
  const signer = new SignatureV4({ service: 'sts', region: cfg.region, sha256: Sha256, credentials: admin });

  // moto wraps errors as <ErrorResponse><Errors><Error>; aws-sdk-go v1 (Vault)
  // only parses <ErrorResponse><Error>, and would turn AWS's "not authorized to
  // perform: iam:GetRole" into a bare "status code: 403". Unwrap it so Vault
  // shows the guide's own error text.
  const unwrapErrors = (xml: string): string => xml.replace(/<Errors>\s*(<Error>[\s\S]*?<\/Error>)\s*<\/Errors>/, '$1');

  // Forward one request to moto: both the decrypted STS tunnel and plain HTTP
  // (Vault's iam_endpoint / sts_endpoint in the lab point here).
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        const action = new URLSearchParams(body).get('Action') ?? '?';
        // AWS serves AssumeRoleWithWebIdentity without a signature (the JWT is the
        // credential) but moto, once enforcing, rejects unsigned requests. Sign it with
        // the lab-admin user so that enforcement only ever bites where AWS would.
        if (!headers.authorization && action === 'AssumeRoleWithWebIdentity') {
          const signed = await signer.sign({
            method: req.method ?? 'POST',
            protocol: 'https:',
            hostname: headers.host ?? 'sts.amazonaws.com',
            path: req.url ?? '/',
            headers: { host: headers.host ?? 'sts.amazonaws.com', 'content-type': headers['content-type'] ?? 'application/x-www-form-urlencoded' },
            body,
          });
          Object.assign(headers, signed.headers);
        }
        headers['content-length'] = String(Buffer.byteLength(body));
        const once = () =>
          new Promise<void>((done) => {
            const up = http.request({ ...moto, method: req.method, path: req.url, headers }, (ures) => {
              log(`${headers.host} ${action} -> moto ${ures.statusCode}`);
              if ((ures.statusCode ?? 500) < 400) {
                res.writeHead(ures.statusCode ?? 502, ures.headers);
                ures.pipe(res);
                ures.on('end', done);
                return;
              }
              const out: Buffer[] = [];
              ures.on('data', (c: Buffer) => out.push(c));
              ures.on('end', () => {
                const text = unwrapErrors(Buffer.concat(out).toString('utf8'));
                const h = { ...ures.headers, 'content-length': String(Buffer.byteLength(text)) };
                delete h['transfer-encoding'];
                res.writeHead(ures.statusCode ?? 502, h).end(text);
                done();
              });
            });
            up.on('error', (e) => {
              log(`moto unreachable: ${e.message}`);
              res.writeHead(502).end();
              done();
            });
            up.end(body);
          });
        await (existsSync(vaultEnforcementFile(dir)) ? enforced(once) : once());
      } catch (e) {
        log(`proxy error: ${String(e)}`);
        res.writeHead(500).end();
      }
    });
  };

  // "IAM checks for the Vault server only" (lab/lib/lab.ts setVaultEnforcement):
  // moto's checks are global, so each of Vault's calls runs alone with them on and
  // the previous setting is put back after it. The runbook's own calls meanwhile
  // keep moto's default, so verify's unsigned AssumeRoleWithWebIdentity (which AWS
  // accepts and moto, enforcing, cannot parse) is not refused for a lab reason.
  let queue: Promise<unknown> = Promise.resolve();
  const resetAuth = async (count: string): Promise<string> => {
    const r = await fetch(`http://${moto.host}:${moto.port}/moto-api/reset-auth`, { method: 'POST', body: count });
    return ((await r.json()) as { PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT: string }).PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT;
  };
  const enforced = (fn: () => Promise<void>): Promise<void> => {
    const run = queue.then(async () => {
      const previous = await resetAuth('0');
      try {
        await fn();
      } finally {
        await resetAuth(/^inf/i.test(previous) ? 'inf' : previous);
      }
    });
    queue = run.catch(() => undefined);
    return run;
  };

  // Requests that arrive inside a CONNECT tunnel, already decrypted.
  const inner = http.createServer(forward);

  const outer = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else {
      forward(req, res);
    }
  });
  outer.on('connect', (req, socket, head) => {
    const [host, port] = (req.url ?? '').split(':');
    if (!host || !allowed.has(host) || (port ?? '443') !== '443') {
      log(`refused CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) socket.unshift(head);
    const tlsSocket = new tls.TLSSocket(socket, { isServer: true, secureContext: secure });
    tlsSocket.on('error', (e) => log(`tls error from client: ${e.message}`));
    inner.emit('connection', tlsSocket);
  });
  outer.listen(listen.port, listen.host, () => log(`sts-proxy listening on ${listen.host}:${listen.port} for ${[...allowed].join(', ')} -> moto ${moto.host}:${moto.port}`));
}

const mode = process.argv[2];
if (mode === 'issuer') {
  await writeVaultToken();
  issuer();
} else if (mode === 'sts-proxy') stsProxy();
else {
  console.error('usage: servers.ts issuer | sts-proxy');
  process.exit(1);
}
