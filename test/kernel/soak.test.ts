/**
 * The short soak CI runs: memory stays bounded and samples keep coming through a sustained storm.
 * How responsive the event loop stays, and how many ticks are sampled, are timings: bench/soak.ts
 * measures them (BENCHMARKS.md).
 */
import { IS_ROOT, requireInCi, testIf } from '../support/env';
import { soak } from '../support/soak';

requireInCi(IS_ROOT, 'root for a storm');
testIf(IS_ROOT, 'needs root (storm, tracefs)')(
  '25 s of sustained storm at 1 s sampling: RSS bounded, samples keep coming',
  async () => {
    const lines: string[] = [];
    const r = await soak({
      quietSeconds: 5,
      stormSeconds: 25,
      concurrency: 8,
      everyMs: 2500,
      log: (l) => lines.push(l),
    });
    console.log(
      `soak: rss ${r.rssStartMiB.toFixed(0)} → ${r.rssEndMiB.toFixed(0)} MiB (slope ${r.rssSlopeMiBPerMin.toFixed(1)} MiB/min), loop p99 max quiet ${(r.loopP99QuietMax * 1e3).toFixed(1)} ms, storm ${(r.loopP99StormMax * 1e3).toFixed(1)} ms, samples/tick ${r.sampleRatio.toFixed(2)}, overruns ${r.overruns}\n${lines.join('\n')}`,
    );
    expect(r.rssEndMiB).toBeLessThan(r.rssStartMiB + 100);
    // Samples keep coming: no stretch of 5 s or more (five sample intervals) without one.
    const stalls = r.points.flatMap((p, i) =>
      r.points
        .slice(i + 1)
        .filter((q) => q.t - p.t >= 5 && q.samples === p.samples)
        .map((q) => `${p.t}-${q.t} s`),
    );
    expect(stalls).toEqual([]);
    const last = r.points[r.points.length - 1];
    expect(last?.samples).toBeGreaterThan(r.points[0]?.samples ?? Infinity);
  },
  120_000,
);
