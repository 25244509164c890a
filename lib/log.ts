// Everything the runbook prints goes through here, so redaction cannot be
// forgotten. Colour only on a TTY, and never when NO_COLOR is set.
import { redact } from './redact.js';

export type Outcome = 'created' | 'updated' | 'deleted' | 'unchanged' | 'skipped' | 'would create' | 'would update' | 'would delete' | 'failed' | 'ok' | 'not checked';

type Sink = (line: string) => void;

// `make plan | head` closes the pipe early: that is not an error worth a stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

let out: Sink = (l) => process.stdout.write(l + '\n');
let err: Sink = (l) => process.stderr.write(l + '\n');
let jsonMode = false;

/** In JSON mode human lines go to stderr so stdout carries one JSON document. */
export function setJsonMode(on: boolean): void {
  jsonMode = on;
}

/** Tests capture output here. */
export function captureOutput(sink: Sink): () => void {
  const prev = [out, err] as const;
  out = sink;
  err = sink;
  return () => {
    [out, err] = prev;
  };
}

function useColour(): boolean {
  return !process.env.NO_COLOR && Boolean(process.stdout.isTTY) && !jsonMode;
}

const codes = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, cyan: 36 } as const;
export function paint(colour: keyof typeof codes, text: string): string {
  return useColour() ? `\u001b[${codes[colour]}m${text}\u001b[0m` : text;
}

export function line(text = ''): void {
  (jsonMode ? err : out)(redact(text));
}

export function warn(text: string): void {
  err(redact(paint('yellow', `warning: ${text}`)));
}

export function errorLine(text: string): void {
  err(redact(paint('red', text)));
}

/** Machine output: one JSON document on stdout. */
export function json(value: unknown): void {
  out(redact(JSON.stringify(value, null, 2)));
}

export function header(id: string, title: string): void {
  line('');
  line(paint('bold', `== ${id} ${title}`));
}

const outcomeColour: Record<Outcome, keyof typeof codes> = {
  created: 'green', updated: 'green', deleted: 'green', unchanged: 'dim', skipped: 'dim',
  'would create': 'cyan', 'would update': 'cyan', 'would delete': 'cyan', failed: 'red', ok: 'green', 'not checked': 'yellow',
};

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** Pure: one action line, e.g. `  created    IAM role dev-role (120ms)`. */
export function formatAction(outcome: Outcome, what: string, ms?: number, note?: string): string {
  const time = ms === undefined ? '' : ` (${formatMs(ms)})`;
  const extra = note ? ` — ${note}` : '';
  return `  ${outcome.padEnd(12)} ${what}${extra}${time}`;
}

export function action(outcome: Outcome, what: string, ms?: number, note?: string): void {
  const text = formatAction(outcome, what, ms, note);
  line(text.replace(outcome, paint(outcomeColour[outcome], outcome)));
}

/** Indented block: diffs and commands. */
export function block(text: string, indent = '      '): void {
  for (const l of text.replace(/\n$/, '').split('\n')) line(indent + l);
}

/** Pure: a plain text table. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}
