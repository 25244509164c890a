// lib/order.ts: code-unit order, the same on every machine (no locale, no ICU collator).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byCodeUnit } from '../lib/order.js';

test('byCodeUnit sorts as String < does: capitals before small letters, by code unit', () => {
  const words = ['b', 'B', 'a', 'a-b', 'a_b', 'A', 'é', 'e', '10', '9', ''];
  assert.equal([...words].sort(byCodeUnit), ['', '10', '9', 'A', 'B', 'a', 'a-b', 'a_b', 'b', 'e', 'é']);
  // Not the locale's order, where 'a' comes before 'B'.
  assert.ok(byCodeUnit('B', 'a') < 0);
  assert.is(byCodeUnit('x', 'x'), 0);
  assert.ok(byCodeUnit('b', 'a') > 0);
});

test.run();
