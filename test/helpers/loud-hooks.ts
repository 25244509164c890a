// uvu swallows an error thrown by a before/after hook: every test of the file
// then "fails" with no message at all (uvu's runner returns from `finally`).
// The runner preloads this module (node --import) so such an error is printed
// with its stack before uvu hides it. Run a file by hand with the same flag:
//   node --import tsx --import ./test/helpers/loud-hooks.ts test/<file>.test.ts
import { test } from 'uvu';

type Register = typeof test.before;
type Callback = Parameters<Register>[0];

function loud(kind: string, register: Register): Register {
  const wrapped = ((fn: Callback) =>
    register(async (state) => {
      try {
        await fn(state);
      } catch (err) {
        const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
        process.stdout.write(`\n   FAIL  ${kind} hook: ${text.split('\n').join('\n    ')}\n`);
        throw err;
      }
    })) as Register;
  wrapped.each = register.each;
  return wrapped;
}

test.before = loud('before', test.before as Register);
test.after = loud('after', test.after as Register);
