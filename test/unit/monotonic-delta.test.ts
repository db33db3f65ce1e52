/** Counters fed from kernel totals (src/sources/monotonic-delta.ts): never back, whatever the kernel does. */
import { MonotonicDelta } from '../../src/sources/monotonic-delta';

test('the first reading is taken whole, later ones add the increase', () => {
  const d = new MonotonicDelta();
  expect(d.delta('cpu0', 100)).toBe(100);
  expect(d.delta('cpu0', 130)).toBe(30);
  expect(d.delta('cpu0', 130)).toBe(0);
});

test('a reading below the last (a reset, a CPU offlined and back) adds nothing, and counting resumes from it', () => {
  const d = new MonotonicDelta();
  d.delta('cpu1', 500);
  expect(d.delta('cpu1', 20)).toBe(0);
  expect(d.delta('cpu1', 45)).toBe(25);
});

test('keys are independent; a running sum of the deltas never goes back', () => {
  const d = new MonotonicDelta();
  let total = 0;
  let last = 0;
  const readings: Array<[string, number]> = [
    ['a', 5],
    ['b', 9],
    ['a', 3],
    ['a', 8],
    ['b', 1],
    ['b', 4],
    ['a', 8],
  ];
  for (const [k, v] of readings) {
    total += d.delta(k, v);
    expect(total).toBeGreaterThanOrEqual(last);
    last = total;
  }
  expect(total).toBe(5 + 9 + 0 + 5 + 0 + 3 + 0);
});
