// The thumbprint IAM asks for: SHA-1 of the top CA certificate the issuer's
// TLS server presents (what eksctl computes). AWS no longer relies on it for
// EKS issuers, so when the issuer cannot be reached a documented fallback is used.
import tls from 'node:tls';
import crypto from 'node:crypto';

/** Root CA thumbprint of the EKS OIDC endpoints (Starfield/Amazon chain), used by eksctl-era docs as the fallback. */
export const FALLBACK_THUMBPRINT = '9e99a48a9960b14926bb7f3b02e22da2b0ab7280';

export function thumbprintOfChain(certs: { raw: Buffer; issuerCertificate?: unknown }[]): string | undefined {
  const top = certs[certs.length - 1];
  return top ? crypto.createHash('sha1').update(top.raw).digest('hex') : undefined;
}

export async function issuerThumbprint(issuer: string, timeoutMs = 3000): Promise<{ thumbprint: string; source: 'tls' | 'fallback'; reason?: string }> {
  const url = new URL(issuer);
  return new Promise((resolve) => {
    const fallback = (reason: string): void => resolve({ thumbprint: FALLBACK_THUMBPRINT, source: 'fallback', reason });
    const socket = tls.connect({ host: url.hostname, port: Number(url.port || 443), servername: url.hostname, timeout: timeoutMs }, () => {
      const chain: tls.DetailedPeerCertificate[] = [];
      let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert && cert.raw && !chain.some((c) => c.fingerprint256 === cert!.fingerprint256)) {
        chain.push(cert);
        cert = cert.issuerCertificate;
      }
      socket.end();
      const t = thumbprintOfChain(chain);
      if (t) resolve({ thumbprint: t, source: 'tls' });
      else fallback('the issuer presented no certificate');
    });
    socket.on('timeout', () => {
      socket.destroy();
      fallback(`${url.hostname} did not answer within ${timeoutMs}ms`);
    });
    socket.on('error', (e) => fallback(`${url.hostname}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}
