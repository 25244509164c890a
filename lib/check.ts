// Grading hand-typed work (issue 16): `make check-NN` / `make check` (or --check
// on any step) is a dry run that ends in a verdict per step — "matches", or
// "differs" after the dry run has printed the difference and the commands that
// would fix it — and, for several steps, a one-line score. It never writes:
// the runner reads live state only (mode dry-run, state file not written).
// Exit 0 when every graded step matches, ExitCode.drift (10) when one differs.
import type { StepResult } from './run.js';

export interface Grade {
  id: string;
  title: string;
  verdict: 'matches' | 'differs' | 'not graded';
  /** Why it differs (the changes the step would make, or what is missing), or why it is not graded. */
  why?: string;
}

/** Pure: a step's dry-run result as a grade. */
export function gradeOf(r: StepResult): Grade {
  const base = { id: r.id, title: r.title };
  if (r.status === 'failed') return { ...base, verdict: 'differs', why: r.error ?? 'the step could not be checked' };
  if (r.status === 'planned') {
    const would = r.actions.filter((a) => a.outcome.startsWith('would '));
    return { ...base, verdict: 'differs', why: would.map((a) => `${a.outcome} ${a.what}`).join('; ') };
  }
  if (r.status === 'skipped') {
    const note = r.actions.find((a) => a.note)?.note;
    return { ...base, verdict: 'not graded', why: note ?? 'the step does not apply here' };
  }
  return { ...base, verdict: 'matches' };
}

export interface Score {
  grades: Grade[];
  graded: number;
  matching: number;
  /** The lines to print: one per step, then (for several steps) the score. */
  lines: string[];
  ok: boolean;
}

/** Pure: every step's grade, and the one-line score. */
export function score(results: StepResult[]): Score {
  const grades = results.map(gradeOf);
  const graded = grades.filter((g) => g.verdict !== 'not graded');
  const matching = graded.filter((g) => g.verdict === 'matches').length;
  const lines = grades.map((g) => `check ${g.id} (${g.title}): ${g.verdict}${g.why ? ` — ${g.why}` : ''}`);
  const differing = graded.filter((g) => g.verdict === 'differs').map((g) => g.id);
  const skipped = grades.filter((g) => g.verdict === 'not graded').map((g) => g.id);
  if (results.length > 1) {
    lines.push(`score: ${matching}/${graded.length} steps match${differing.length ? `; ${differing.join(', ')} differ${differing.length === 1 ? 's' : ''}` : ''}${skipped.length ? ` (not graded: ${skipped.join(', ')})` : ''}`);
  }
  return { grades, graded: graded.length, matching, lines, ok: matching === graded.length };
}
