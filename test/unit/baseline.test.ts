/** The probes' quiet-baseline estimator (src/sources/probes/baseline.ts), behind the lock-wait alerts. */
import { BaselineEstimator } from '../../src/sources/probes/baseline';

test('nothing observed: no baseline, no current, no estimate', () => {
  const b = new BaselineEstimator(100);
  expect([b.baseline(), b.current(), b.estimate(), b.observations]).toEqual([undefined, undefined, undefined, 0]);
});

test('the baseline is the window’s 10th percentile; the current, the median of the last five', () => {
  const b = new BaselineEstimator(100);
  for (let i = 1; i <= 100; i++) b.observe(i / 1000); // 1..100 ms
  expect(b.baseline()).toBeCloseTo(0.011, 9); // sorted[floor(0.1 × 100)] = the 11th
  expect(b.current()).toBeCloseTo(0.098, 9); // median of 96..100 ms
  expect(b.estimate()).toBeCloseTo(0.087, 9);
});

test('one slow read among five does not move the current; three do', () => {
  const b = new BaselineEstimator(50);
  for (let i = 0; i < 50; i++) b.observe(0.001);
  b.observe(0.5);
  expect(b.estimate()).toBe(0);
  b.observe(0.5);
  b.observe(0.5);
  expect(b.current()).toBe(0.5);
  expect(b.estimate()).toBeCloseTo(0.499, 9);
});

test('a storm must fill 90 % of the window before it becomes the baseline', () => {
  const b = new BaselineEstimator(100);
  for (let i = 0; i < 100; i++) b.observe(0.001);
  for (let i = 0; i < 89; i++) b.observe(0.2);
  expect(b.baseline()).toBe(0.001);
  expect(b.estimate()).toBeCloseTo(0.199, 9);
  b.observe(0.2); // 90 of 100: the quiet reads are the bottom 10, the 10th percentile is the storm's
  expect(b.baseline()).toBe(0.2);
  expect(b.estimate()).toBe(0);
});

test('the window is a ring: the oldest observations leave it; the estimate is never negative', () => {
  const b = new BaselineEstimator(3, 1);
  for (const v of [0.005, 0.006, 0.007]) b.observe(v);
  expect(b.baseline()).toBe(0.005);
  b.observe(0.008); // 0.005 leaves
  expect(b.observations).toBe(3);
  expect(b.baseline()).toBe(0.006);
  b.observe(0.001); // faster than the baseline: 0
  expect(b.estimate()).toBe(0);
});
