// Reads that do not depend on each other are sent at once and awaited in the order a
// sequential run would have awaited them, so the first error is still the one it
// would have raised. early() marks a promise as handled until then: one that fails
// while an earlier await throws is not an unhandled rejection.
export function early<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
