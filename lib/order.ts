// Sorting keys the runbook writes (state records, cache keys): by UTF-16 code unit, as
// String's < compares. The same order on every machine whatever its locale, and no ICU
// collator: String#localeCompare loads one the first time a process calls it (6 ms here).

/** Comparator for Array#sort: code-unit order. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
