/**
 * When on-demand tracing arms (src/alerts/arming.ts), from Samples as the exporter builds them: the
 * container start rate reaching the storm page's own start-rate clause, the watched table swinging,
 * the namespace_sem probe; and not on a node that starts a container now and then.
 */
import { TracingArmingPolicy } from '../../src/alerts/arming';
import { DEFAULT_ALERTS_CONFIG } from '../../src/alerts/config';
import { History } from '../../src/sample/history';
import type { Sample } from '../../src/sample/sample';

const ok = { ok: true, seconds: 0 };

/** The sample at second `t` with `starts` new bundles in a watched containerd directory. */
function sample(t: number, starts: number, entries = 30): Sample {
  return {
    at: t * 1000,
    seconds: 1,
    parts: {
      containers: {
        starts: new Map([['containerd', starts]]),
        watched: 1,
        images: new Map(),
        startLayers: new Map(),
      } as never,
      mounts: { entries } as never,
    },
    collectors: { containers: ok, mounts: ok },
  };
}

function run(samples: Sample[]): string[] {
  const reasons: string[] = [];
  const history = new History();
  const policy = new TracingArmingPolicy((r) => reasons.push(r), history, DEFAULT_ALERTS_CONFIG);
  for (const s of samples) {
    history.add(s);
    policy.observe(s);
  }
  return reasons;
}

test("container starts at the page's start rate arm it, from the sample that reaches the rate", () => {
  // 2 starts a second: over the 10 s window, the rate passes 0.5/s within a few samples.
  const samples = Array.from({ length: 8 }, (_, t) => sample(t, t === 0 ? 0 : 2));
  const reasons = run(samples);
  expect(reasons.length).toBeGreaterThan(0);
  expect(reasons[0]).toMatch(/^container starts at \d+\.\d\/s, the storm page's start rate \(0\.5\/s\)$/);
  // Not before the third sample: one sample of 2 starts is under 5 in the window.
  expect(run(samples.slice(0, 2))).toEqual([]);
});

test('a start now and then (one every 4 s, under 0.5/s) never arms it', () => {
  const samples = Array.from({ length: 60 }, (_, t) => sample(t, t % 4 === 0 ? 1 : 0));
  expect(run(samples)).toEqual([]);
});

test('without the history (no evaluator config), starts arm nothing; the table still does', () => {
  const reasons: string[] = [];
  const policy = new TracingArmingPolicy((r) => reasons.push(r));
  for (let t = 0; t < 10; t++) policy.observe(sample(t, 10));
  expect(reasons).toEqual([]);
  policy.observe(sample(10, 0, 200));
  expect(reasons).toEqual(['the watched mount table moved by 170 entries within a sample']);
});

test("the page's start rate is the user's: a higher threshold arms later", () => {
  const reasons: string[] = [];
  const history = new History();
  const config = {
    ...DEFAULT_ALERTS_CONFIG,
    thresholds: { ...DEFAULT_ALERTS_CONFIG.thresholds, stormStartsPerSecond: 5 },
  };
  const policy = new TracingArmingPolicy((r) => reasons.push(r), history, config);
  for (let t = 0; t < 20; t++) {
    const s = sample(t, t === 0 ? 0 : 2);
    history.add(s);
    policy.observe(s);
  }
  expect(reasons).toEqual([]);
});
