/** The short soak CI runs (bench/soak.js runs the 10-minute one): flat memory, a responsive event loop, no lost samples. */
import { IS_ROOT, requireInCi, testIf } from './support/env';
import { soak } from './support/soak';

requireInCi(IS_ROOT, 'root for a storm');
testIf(IS_ROOT, 'needs root (storm, tracefs)')(
  '25 s of sustained storm at 1 s sampling: RSS bounded, event-loop p99 < 100 ms, every tick sampled',
  async () => {
    const lines: string[] = [];
    const r = await soak({ quietSeconds: 5, stormSeconds: 25, concurrency: 8, everyMs: 2500, log: (l) => lines.push(l) });
    // eslint-disable-next-line no-console
    console.log(`soak: rss ${r.rssStartMiB.toFixed(0)} → ${r.rssEndMiB.toFixed(0)} MiB (slope ${r.rssSlopeMiBPerMin.toFixed(1)} MiB/min), loop p99 max quiet ${(r.loopP99QuietMax * 1e3).toFixed(1)} ms, storm ${(r.loopP99StormMax * 1e3).toFixed(1)} ms, samples/tick ${r.sampleRatio.toFixed(2)}, overruns ${r.overruns}\n${lines.join('\n')}`);
    expect(r.loopP99StormMax).toBeLessThan(0.1);
    expect(r.rssEndMiB).toBeLessThan(r.rssStartMiB + 100);
    expect(r.overruns).toBe(0);
    expect(r.sampleRatio).toBeGreaterThan(0.9);
  },
  120_000,
);
