// Secrets never reach output. Values are registered as they become known
// (tokens, secret keys, session tokens); patterns catch the well-known shapes
// of ones that were not registered.

const secrets = new Set<string>();
export const MASK = '****';

const patterns: RegExp[] = [
  /\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g, // Vault service/batch/recovery tokens
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids (ASIA: temporary)
  /(X-Amz-Security-Token[=:]\s*)[^\s&"']+/gi,
  /("?(?:secret_?access_?key|secretAccessKey|session_?token|sessionToken|client_token|clientToken|root_token|VAULT_TOKEN|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|license_?key|GLOO_LICENSE_KEY)"?\s*[=:]\s*"?)([^\s"',}]+)/gi,
];

/** Register a secret value; short values are ignored (they would mask ordinary words). */
export function addSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  // Longest first so a secret containing another is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  for (const p of patterns) {
    out = out.replace(p, (m, prefix?: string) => (typeof prefix === 'string' && m.startsWith(prefix) ? prefix + MASK : MASK));
  }
  return out;
}

export function clearSecretsForTest(): void {
  secrets.clear();
}
