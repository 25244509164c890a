// Readable differences between what is live and what the runbook wants.
import { createTwoFilesPatch } from 'diff';
import { normalizeDocument } from './iam-documents.js';

/** Pure: unified diff of two JSON documents after normalisation; '' when equal. */
export function jsonDiff(live: unknown, wanted: unknown, label = 'document'): string {
  const a = JSON.stringify(normalizeDocument(live), null, 2) + '\n';
  const b = JSON.stringify(normalizeDocument(wanted), null, 2) + '\n';
  return textDiff(a, b, label);
}

export function textDiff(live: string, wanted: string, label = 'text'): string {
  if (live === wanted) return '';
  const patch = createTwoFilesPatch(`live ${label}`, `wanted ${label}`, live, wanted, '', '', { context: 2 });
  return patch.split('\n').filter((l) => !l.startsWith('===')).slice(1).join('\n').trimEnd();
}

/** Pure: key-by-key difference of flat settings (Vault config fields). */
export function fieldDiff(live: Record<string, unknown>, wanted: Record<string, unknown>): string {
  const lines: string[] = [];
  for (const k of Object.keys(wanted)) {
    const a = JSON.stringify(live[k]);
    const b = JSON.stringify(wanted[k]);
    if (a !== b) lines.push(`${k}: ${a ?? '(unset)'} -> ${b}`);
  }
  return lines.join('\n');
}
